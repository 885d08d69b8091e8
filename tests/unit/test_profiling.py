import statistics

import numpy as np
import polars as pl
import pytest

from reports.work import csv_sample, profiling
from tests.support import csv_bytes, people_csv


def write(tmp_path, content: bytes, name="data.csv"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def profile_of(tmp_path, content: bytes, separator=",", **sizes):
    return profiling.profile_file(write(tmp_path, content), separator, **sizes)


def column(result, name):
    return next(c for c in result["columns"] if c["name"] == name)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("name,city\nJosé,Zürich\n".encode("latin-1"), "not UTF-8"),
        (b"a,b,c\n1,2,3\n4,5,6,7\n", "Row 3 has 4 fields but the header has 3"),
        (b"a,b,a\n1,2,3\n", "repeats a column name: a"),
        (b"a,b,c\n", "no data rows"),
        (b"\na,b\n1,2\n", "header row"),
    ],
)
def test_bad_files_are_refused_with_a_plain_reason(content, message):
    with pytest.raises(csv_sample.CsvProblem, match=message):
        csv_sample.inspect_sample(content, is_whole_file=True)


def test_separator_is_detected():
    assert csv_sample.inspect_sample(b"a;b;c\n1;2;3\n4;5;6\n", True).separator == ";"
    assert csv_sample.inspect_sample(b"a\tb\n1\t2\n", True).separator == "\t"
    assert csv_sample.inspect_sample(b"a,b\n1,2\n", True).columns == 2


def test_a_sample_cut_inside_a_character_is_not_called_bad_encoding():
    text = ("name,city\n" + "Zoë,Malmö\n" * 50).encode()
    cut = text[: text.rindex("ö".encode()) + 1]  # ends half-way through a two-byte character
    assert csv_sample.inspect_sample(cut, is_whole_file=False).columns == 2


def test_every_column_gets_a_type_and_counts(tmp_path):
    result = profile_of(tmp_path, people_csv(50))
    assert result["rows"] == 50
    types = {c["name"]: c["type"] for c in result["columns"]}
    assert types == {"name": "text", "age": "integer", "joined": "date", "score": "decimal", "team": "category"}
    score = column(result, "score")
    assert score["missing"] == 5 and score["count"] == 45


def test_numeric_statistics_match_the_statistics_module(tmp_path):
    values = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]
    result = profile_of(tmp_path, csv_bytes(["n"], [[v] for v in values]))
    n = column(result, "n")
    assert n["min"] == 1 and n["max"] == 9
    assert n["mean"] == pytest.approx(statistics.mean(values))
    assert n["median"] == statistics.median(values)
    assert n["std"] == pytest.approx(statistics.stdev(values))
    assert n["distinct"] == len(set(values))
    assert sum(n["histogram"]["counts"]) == len(values)
    assert n["top"][0] == [5, 3]


def test_dates_report_earliest_and_latest(tmp_path):
    result = profile_of(tmp_path, csv_bytes(["day"], [["2024-03-01"], ["2023-12-31"], ["2024-07-04"]]))
    day = column(result, "day")
    assert (day["type"], day["earliest"], day["latest"]) == ("date", "2023-12-31", "2024-07-04")


def test_unique_columns_say_so_instead_of_listing_top_values(tmp_path):
    result = profile_of(tmp_path, csv_bytes(["id"], [[i] for i in range(20)]))
    assert column(result, "id")["unique"] is True
    assert "top" not in column(result, "id")


def test_a_column_with_no_values_is_empty_not_an_error(tmp_path):
    result = profile_of(tmp_path, b"a,b\n1,\n2,\n")
    assert column(result, "b")["type"] == "empty"
    assert column(result, "b")["missing"] == 2


def test_a_value_far_down_that_is_not_a_number_is_counted_not_fatal(tmp_path):
    rows = [[i] for i in range(20_000)] + [["n/a"]]
    result = profile_of(tmp_path, csv_bytes(["code"], rows))
    code = column(result, "code")
    assert (code["type"], code["count"], code["not_numbers"], code["missing"]) == ("integer", 20_000, 1, 0)
    assert code["max"] == 19_999 and any(alert["kind"] == "not_numbers" for alert in code["alerts"])


def test_a_decimal_far_down_in_a_whole_number_column_makes_it_decimal(tmp_path):
    rows = [[i] for i in range(20_000)] + [["2.5"]]
    code = column(profile_of(tmp_path, csv_bytes(["n"], rows)), "n")
    assert (code["type"], code["count"], code["min"]) == ("decimal", 20_001, 0)


def test_a_ragged_row_past_the_sample_is_a_clear_problem(tmp_path):
    rows = [[i, i] for i in range(30_000)] + [[1, 2, 3]]
    with pytest.raises(profiling.CsvProblem, match="more fields than the header"):
        profiling.profile_file(write(tmp_path, csv_bytes(["a", "b"], rows)), ",")


def test_reading_reports_progress_as_rows_arrive(tmp_path):
    path = write(tmp_path, csv_bytes(["a", "b"], [[i, i * 2] for i in range(250_000)]))
    seen = []
    profiling.profile_file(path, ",", lambda percent, step="": seen.append((percent, step)), batch_rows=50_000)
    assert len(seen) >= 5
    assert [p for p, _ in seen] == sorted(p for p, _ in seen)
    read = [step for _, step in seen if step.startswith("Read ")]
    assert read[0].endswith("(50,000 rows)") and read[-1].endswith("(250,000 rows)")
    assert f"of {profiling.human_bytes(path.stat().st_size)}" in read[-1]


def test_text_from_the_file_is_kept_as_text(tmp_path):
    result = profile_of(tmp_path, csv_bytes(["note"], [["<script>alert(1)</script>"]] * 3))
    assert column(result, "note")["top"] == [["<script>alert(1)</script>", 3]]


def test_a_uniform_whole_number_column_has_a_flat_histogram():
    import polars as pl

    histogram = profiling.histogram
    months = histogram(pl.Series("month", list(range(1, 13)) * 10), integers=True)
    assert len(set(months["counts"])) == 1  # ten equal bins over 1..12 would make it U-shaped
    assert months["edges"][0] == 0.5 and months["edges"][-1] == 12.5
    wide = histogram(pl.Series("id", range(1000)), integers=True)
    assert wide["counts"] == [100] * 10
    assert histogram(pl.Series("price", [0.5, 1.5, 2.5]), integers=False)["counts"].count(1) == 3


@pytest.mark.parametrize(
    "low, high, whole",
    [(-50, 1_000, True), (1, 12, True), (7, 7, True), (-(2**40), 2**40, True), (-(2**51), 2**52, False)],
)
def test_whole_number_bins_count_what_numpy_counts(low, high, whole):
    import polars as pl

    values = np.random.default_rng(high).integers(low, high + 1, 50_000)
    shown = profiling.histogram(pl.Series("n", values), integers=True)
    expected, edges = np.histogram(values.astype(float), bins=np.array(shown["edges"]))
    assert shown["counts"] == expected.tolist() and sum(shown["counts"]) == values.size
    assert shown["whole"] is whole  # past 2**51 ten equal bins, as for decimals


def test_a_date_in_year_zero_is_profiled_not_a_crash(tmp_path):
    # Found by the fuzz test: "0-1-1" reads as a date no Python date can hold.
    result = profile_of(tmp_path, b"when\n0-1-1\n2025-01-31\n")
    assert column(result, "when")["latest"] == "2025-01-31"


# --- The statistics, checked against values computed here with numpy and the statistics module ---


def generated(rows: int, seed: int = 11) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "id": np.arange(1, rows + 1),
        "price": rng.gamma(2.0, 30.0, rows).round(2),
        "units": rng.integers(0, 12, rows),  # about one in twelve is zero
        "delta": rng.normal(0, 5, rows).round(3),
        "region": np.array(["North", "South", "East"])[rng.integers(0, 3, rows)],
    }


def write_frame(tmp_path, columns: dict, name="generated.csv"):
    path = tmp_path / name
    pl.DataFrame(columns).write_csv(path)
    return path


@pytest.mark.parametrize("batch_rows", [1_000, 250_000])
def test_exact_statistics_match_numpy_whatever_the_batch_size(tmp_path, batch_rows):
    data = generated(20_000)
    result = profiling.profile_file(write_frame(tmp_path, data), ",", batch_rows=batch_rows)
    assert result["exact"] is True and result["rows"] == 20_000
    for name in ("price", "units", "delta"):
        values, stats = data[name], column(result, name)
        assert stats["mean"] == pytest.approx(values.mean(), rel=1e-12)
        assert stats["std"] == pytest.approx(values.std(ddof=1), rel=1e-9)
        assert stats["min"] == values.min() and stats["max"] == values.max()
        assert stats["zeros"] == int((values == 0).sum()) and stats["negatives"] == int((values < 0).sum())
        assert stats["distinct"] == len(np.unique(values))
        for key, q in profiling.QUANTILES.items():
            assert stats[key] == pytest.approx(np.quantile(values, q), rel=1e-12)
        n, mean = len(values), values.mean()
        g1 = np.sqrt(n) * ((values - mean) ** 3).sum() / ((values - mean) ** 2).sum() ** 1.5
        assert stats["skewness"] == pytest.approx(g1 * np.sqrt(n * (n - 1)) / (n - 2), rel=1e-9)
        m2, m4 = ((values - mean) ** 2).sum(), ((values - mean) ** 4).sum()
        excess = n * (n + 1) * (n - 1) * m4 / ((n - 2) * (n - 3) * m2**2) - 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))
        assert stats["kurtosis"] == pytest.approx(excess, rel=1e-9)
        assert stats["sum"] == pytest.approx(values.sum(), rel=1e-12)
        assert stats["mad"] == pytest.approx(np.median(np.abs(values - np.median(values))), rel=1e-12)
        assert stats["iqr"] == pytest.approx(np.quantile(values, 0.75) - np.quantile(values, 0.25), rel=1e-12)
        assert stats["monotonic"] == "" and stats["infinite"] == 0
    assert column(result, "id")["monotonic"] == "increasing"
    region = column(result, "region")
    expected = sorted(((int((data["region"] == r).sum()), r) for r in ("North", "South", "East")), reverse=True)
    assert [(count, value) for value, count in region["top"]] == expected and region["top_exact"] is True
    lengths = [len(v) for v in data["region"]]
    assert region["length"] == {
        "min": 4,
        "mean": pytest.approx(np.mean(lengths)),
        "median": np.median(lengths),
        "max": 5,
    }
    matrix = result["correlations"]["matrix"]
    names = result["correlations"]["columns"]
    assert "id" not in names  # an id column correlates with nothing a person cares about
    r = np.corrcoef(data["price"], data["delta"])[0, 1]
    assert matrix[names.index("price")][names.index("delta")] == pytest.approx(r, rel=1e-9)


def test_a_file_past_the_sample_is_estimated_within_the_errors_it_states(tmp_path):
    rows = 60_000
    rng = np.random.default_rng(5)
    data = {"value": rng.lognormal(3, 1, rows).round(4), "code": rng.integers(0, 30_000, rows),
            "kind": np.array(["a", "b", "c", "d"])[rng.choice(4, rows, p=[0.5, 0.3, 0.15, 0.05])]}  # fmt: skip
    result = profiling.profile_file(write_frame(tmp_path, data), ",", batch_rows=2_000, sample_rows=5_000)
    assert result["exact"] is False and result["sample_rows"] == 5_000
    value = column(result, "value")
    assert value["quantiles_exact"] is False
    # Exact still: counts, extremes and moments are merged, not sampled.
    assert value["mean"] == pytest.approx(data["value"].mean(), rel=1e-12) and value["max"] == data["value"].max()
    # Each quantile within the stated margin, in quantile points: its rank in the whole column.
    ordered = np.sort(data["value"])
    for key, q in profiling.QUANTILES.items():
        rank = np.searchsorted(ordered, value[key]) / rows
        assert abs(rank - q) <= result["quantile_error"], key
    # Distinct values past the exact limit: estimated by HyperLogLog within its stated error.
    code = column(result, "code")
    true_distinct = len(np.unique(data["code"]))
    assert code["distinct_exact"] is False
    assert abs(code["distinct"] - true_distinct) <= result["distinct_error"] * true_distinct
    # Few values: counted exactly however long the file.
    kind = column(result, "kind")
    assert kind["top_exact"] is True and kind["top"][0] == ["a", int((data["kind"] == "a").sum())]
    assert sum(column(result, "value")["histogram"]["counts"]) == pytest.approx(rows, rel=0.01)


def test_duplicate_rows_are_counted_exactly_across_batches(tmp_path):
    rows = [[i % 700, "x"] for i in range(3_000)]  # 700 distinct rows, the rest repeats
    result = profile_of(tmp_path, csv_bytes(["a", "b"], rows), batch_rows=250)
    assert result["duplicate_rows"] == 3_000 - 700
    assert result["alerts"][0]["kind"] == "duplicates"


def test_types_a_person_recognises(tmp_path):
    content = csv_bytes(
        ["amount", "member", "team", "seen", "as_text"],
        [[f"{1000 + i * 37:,}.50", ["yes", "no"][i % 2], ["red", "blue", "green"][i % 3],
          f"2025-03-{1 + i % 28:02d} 12:{i % 60:02d}:30.250", f" {i} "] for i in range(300)],
    )  # fmt: skip
    result = profile_of(tmp_path, content)
    amount = column(result, "amount")
    assert (amount["type"], amount["written_as"], amount["min"]) == ("decimal", "thousands separators", 1000.5)
    assert column(result, "member")["type"] == "boolean"
    assert column(result, "team")["type"] == "category"
    seen = column(result, "seen")
    assert seen["type"] == "datetime" and seen["earliest"] == "2025-03-01 12:00:30.250"
    as_text = column(result, "as_text")
    assert (as_text["type"], as_text["written_as"], as_text["max"]) == ("integer", "text", 299)


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ([7] * 40, "constant"),
        (list(range(40)), "id"),
        ([None] * 30 + [1] * 10, "missing"),
        ([0] * 10 + list(range(1, 31)), "zeros"),
        ([1] * 39 + [10_000], "skewed"),
        ([f"word {i % 35}" for i in range(60)] + [f"other {i}" for i in range(20)], "cardinality"),
    ],
)
def test_each_alert_fires_on_a_column_made_for_it(tmp_path, values, kind):
    rows = [["" if value is None else value, number] for number, value in enumerate(values)]
    result = profile_of(tmp_path, csv_bytes(["column", "row"], rows))
    assert kind in {alert["kind"] for alert in column(result, "column")["alerts"]}


def test_two_columns_that_move_together_are_flagged(tmp_path):
    rows = [[3 * i, 6 * i + 1, (i * 7919) % 101] for i in range(200)]
    result = profile_of(tmp_path, csv_bytes(["x", "y", "noise"], rows))
    assert [alert["text"] for alert in result["alerts"]] == ["x and y are highly correlated (r = 1.00)"]


def test_scratch_files_of_the_row_hashes_are_removed(tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    profiling.profile_file(write(tmp_path, people_csv(30)), ",", scratch=scratch)
    assert list(scratch.iterdir()) == []
    ragged_later = csv_bytes(["a", "b"], [[i, i] for i in range(500)]) + b"1,2,3\n"  # past the first batch
    with pytest.raises(csv_sample.CsvProblem, match="more fields"):
        profiling.profile_file(write(tmp_path, ragged_later, "bad.csv"), ",", scratch=scratch, batch_rows=100)
    assert list(scratch.iterdir()) == []


def test_monotonic_and_infinite_values_are_judged_across_batches(tmp_path):
    falling = list(range(100, 0, -1))
    step_up_at_a_boundary = list(range(50)) + [10] + list(range(51, 100))  # row 51 starts a batch
    rows = [
        [a, b, "inf" if i == 3 else i / 2] for i, (a, b) in enumerate(zip(falling, step_up_at_a_boundary, strict=True))
    ]
    result = profile_of(tmp_path, csv_bytes(["falling", "bumpy", "ratio"], rows), batch_rows=50)
    assert column(result, "falling")["monotonic"] == "decreasing"
    assert column(result, "bumpy")["monotonic"] == ""
    ratio = column(result, "ratio")
    assert ratio["infinite"] == 1 and ratio["mean"] == pytest.approx(np.mean([i / 2 for i in range(100) if i != 3]))


def test_order_is_judged_over_missing_values(tmp_path):
    rising = [1, "", 2, "", "", 5, 8, "", 9]
    fall_behind_a_gap = [1, 4, "", 3, 5, 6, "", 7, 8]  # 4, (missing), 3: a step down
    result = profile_of(tmp_path, csv_bytes(["rising", "gap"], list(zip(rising, fall_behind_a_gap, strict=True))),
                        batch_rows=4)  # fmt: skip
    assert column(result, "rising")["monotonic"] == "increasing"
    assert column(result, "gap")["monotonic"] == ""


def test_a_strictly_rising_column_has_exact_distinct_values_past_the_sample(tmp_path):
    rows = 30_000
    ids = np.arange(5, 5 + 3 * rows, 3)  # every value different, past the exact-count limit
    # Rising, but one value twice: either side of a batch boundary (rows 1,999 and 2,000), or
    # either side of a missing value. Their distinct values must be estimated, not assumed.
    boundary = np.arange(rows)
    boundary[2_000] = boundary[1_999]
    gap = [str(v) for v in range(rows)]
    gap[10_001], gap[10_002] = "", gap[10_000]
    path = write(
        tmp_path, csv_bytes(["id", "boundary", "gap"], list(zip(ids.tolist(), boundary.tolist(), gap, strict=True)))
    )
    result = profiling.profile_file(path, ",", batch_rows=2_000, sample_rows=5_000)
    assert result["exact"] is False
    identifier = column(result, "id")
    assert identifier["distinct"] == rows and identifier["distinct_exact"] is True and identifier["unique"] is True
    for name in ("boundary", "gap"):
        stats = column(result, name)
        assert stats["monotonic"] == "increasing" and stats["distinct_exact"] is False, name


def varied_late(rows: int, seed: int = 3) -> list[str]:
    """Text with four values for the first 12,000 rows, then a new value every few rows: counted
    exactly at first, too varied to count from about row 40,000."""
    rng = np.random.default_rng(seed)
    early = np.array(["red", "green", "blue", "violet"])[rng.integers(0, 4, 12_000)]
    late = [f"shade-{n}" for n in rng.integers(0, (rows - 12_000) // 3, rows - 12_000)]
    return [*early.tolist(), *late]


def test_text_that_becomes_too_varied_to_count_keeps_exact_figures_when_the_file_fits(tmp_path):
    from collections import Counter

    texts = varied_late(60_000)
    path = write(tmp_path, csv_bytes(["n", "shade"], [[i % 7, t] for i, t in enumerate(texts)]))
    result = profiling.profile_file(path, ",", batch_rows=2_000)
    assert result["exact"] is True
    shade, counted = column(result, "shade"), Counter(texts)
    # Counted exactly up to the batch where it stopped, then from the sample: still exact.
    assert shade["distinct"] == len(counted) and shade["distinct_exact"] is True
    expected = sorted(counted.items(), key=lambda item: (-item[1], item[0]))[: profiling.TOP_VALUES]
    assert shade["top"] == [[value, n] for value, n in expected] and shade["top_exact"] is True
    assert shade["length"]["median"] == np.median([len(t) for t in texts])


def test_text_too_varied_to_count_from_the_first_rows_is_exact_when_the_file_fits(tmp_path):
    from collections import Counter

    rng = np.random.default_rng(9)
    codes = [f"code-{n}" for n in rng.integers(0, 15_000, 40_000)]  # past the limit in the first rows
    path = write(tmp_path, csv_bytes(["code", "kind"], [[c, "ab"[i % 2]] for i, c in enumerate(codes)]))
    result = profiling.profile_file(path, ",")  # one batch of 40,000 rows
    code, counted = column(result, "code"), Counter(codes)
    assert code["distinct"] == len(counted) and code["distinct_exact"] is True
    expected = sorted(counted.items(), key=lambda item: (-item[1], item[0]))[: profiling.TOP_VALUES]
    assert code["top"] == [[value, n] for value, n in expected] and code["top_exact"] is True
    assert code["length"]["median"] == np.median([len(c) for c in codes])
    assert column(result, "kind")["top"] == [["a", 20_000], ["b", 20_000]]


def test_text_that_becomes_too_varied_to_count_is_estimated_within_its_margins_past_the_sample(tmp_path):
    from collections import Counter

    texts = varied_late(60_000)
    path = write(tmp_path, csv_bytes(["n", "shade"], [[i % 7, t] for i, t in enumerate(texts)]))
    result = profiling.profile_file(path, ",", batch_rows=2_000, sample_rows=5_000)
    assert result["exact"] is False
    shade, counted = column(result, "shade"), Counter(texts)
    assert shade["top_exact"] is False
    # The four early colours lead: counted exactly while counting lasted, so tightly estimated.
    assert {value for value, _, _ in shade["top"][:4]} == {"red", "green", "blue", "violet"}
    for value, estimate, margin in shade["top"]:
        assert abs(estimate - counted[value]) <= max(margin, 1), value
    assert abs(shade["length"]["median"] - np.median([len(t) for t in texts])) <= 1


def test_a_value_counted_early_and_missed_by_the_sample_later_keeps_a_margin(tmp_path):
    from collections import Counter

    texts = varied_late(60_000)
    for row in range(12_000, 60_000, 3_000):  # "red" goes on, rarely, after counting stopped
        texts[row] = "red"
    path = write(tmp_path, csv_bytes(["shade"], [[t] for t in texts]))
    result = profiling.profile_file(path, ",", batch_rows=2_000, sample_rows=5_000)
    counted = Counter(texts)
    for value, estimate, margin in column(result, "shade")["top"]:
        assert margin > 0 and abs(estimate - counted[value]) <= margin, value


def test_ids_falling_or_huge_are_judged_by_comparing_not_subtracting(tmp_path):
    rows = 12_000
    # Rises and falls by more than an integer holds: a subtraction would wrap around and make
    # this column look as if it only fell; one value comes back at the end.
    jumping = [v for i in range(rows) for v in (3 * 10**18 + i, -3 * 10**18 + i, 7 * 10**18 + i)] + [3 * 10**18]
    falling = list(range(10 * len(jumping), 0, -10))
    path = write(tmp_path, csv_bytes(["jumping", "falling"], list(zip(jumping, falling, strict=True))))
    result = profiling.profile_file(path, ",")
    assert column(result, "jumping")["monotonic"] == "" and column(result, "jumping")["distinct"] == 3 * rows
    assert column(result, "jumping")["unique"] is False
    falls = column(result, "falling")
    assert falls["monotonic"] == "decreasing" and falls["distinct"] == len(falling) and falls["distinct_exact"]


def test_a_file_of_counted_text_says_how_many_rows_its_sample_stands_for(tmp_path):
    rows = [["abc"[i % 3], "xy"[i % 2]] for i in range(5_000)]
    result = profiling.profile_file(write(tmp_path, csv_bytes(["a", "b"], rows)), ",", batch_rows=1_000,
                                    sample_rows=1_000)  # fmt: skip
    assert result["exact"] is False and result["sample_rows"] == 1_000
    assert result["quantile_error"] == profiling.quantile_error(1_000)


def test_numbers_written_as_text_are_judged_over_the_whole_first_batch(tmp_path):
    values = [str(n) for n in range(9_999)] + ["n/a"] + [f"AB-{n:05d}" for n in range(20_000)]
    result = profile_of(tmp_path, csv_bytes(["ref"], [[v] for v in values]))
    ref = column(result, "ref")
    assert ref["type"] == "text" and "not_numbers" not in ref and ref["distinct"] == len(values)


@pytest.mark.parametrize("name", ["estimate", "sampled", "exact"])
def test_columns_named_like_the_profilers_working_columns_are_profiled(tmp_path, name):
    rows = [[f"v{i % 12_000}", "lo" if i % 3 else "hi"] for i in range(30_000)]
    result = profiling.profile_file(write(tmp_path, csv_bytes([name, "level"], rows)), ",", batch_rows=5_000)
    assert column(result, name)["distinct"] == 12_000 and column(result, name)["top"][0] == ["v0", 3]
    assert column(result, "level")["top"] == [["lo", 20_000], ["hi", 10_000]]


def test_columns_named_like_the_profilers_own_are_profiled_as_theirs(tmp_path):
    names = ["__profile_0_deviation", "__profile_key", "c0_nulls"]
    rows = [[i, 10 * i, "x" if i % 2 else "y"] for i in range(1, 2_001)]
    result = profiling.profile_file(write(tmp_path, csv_bytes(names, rows), "own.csv"), ",", batch_rows=500,
                                    sample_rows=1_000)  # fmt: skip
    assert [c["name"] for c in result["columns"]] == names
    assert column(result, "__profile_0_deviation")["mean"] == pytest.approx(1000.5)
    assert column(result, "__profile_key")["max"] == 20_000 and column(result, "__profile_key")["median"] > 1_000
    assert column(result, "c0_nulls")["distinct"] == 2


def test_a_file_wider_than_the_limit_is_refused_by_the_worker_too(tmp_path):
    content = csv_bytes([f"c{i}" for i in range(30)], [list(range(30))])
    with pytest.raises(csv_sample.CsvProblem, match="30 columns; a profile takes up to 20"):
        profile_of(tmp_path, content, max_columns=20)


def test_nan_counts_as_missing_and_leaves_the_other_figures_alone(tmp_path):
    rows = [[1.5], [2.5], ["NaN"], [4.0]]
    ratio = column(profile_of(tmp_path, csv_bytes(["ratio"], rows)), "ratio")
    assert (ratio["count"], ratio["missing"]) == (3, 1)
    assert ratio["mean"] == pytest.approx(8 / 3) and ratio["max"] == 4.0 and ratio["median"] == 2.5


def test_late_surprises_in_a_column_are_read_not_fatal(tmp_path):
    rows = [[f"2025-01-{1 + i % 28:02d}", i, f"12:{i % 60:02d}:00", i] for i in range(300)]
    rows += [["soon", "1.5", "13:00:00", "-inf"], ["2025-02-01", "n/a", "14:00:00", 3]]
    result = profile_of(tmp_path, csv_bytes(["day", "n", "at", "x"], rows))
    assert column(result, "day")["type"] == "category"  # a non-date below the probe's rows: text, 29 values
    n = column(result, "n")  # whole numbers, then a decimal, then a word
    assert (n["type"], n["count"], n["not_numbers"], n["max"]) == ("decimal", 301, 1, 299)
    at = column(result, "at")
    assert (at["type"], at["earliest"], at["latest"]) == ("time", "12:00:00", "14:00:00")
    x = column(result, "x")
    assert x["infinite"] == 1 and x["p25"] is not None and x["iqr"] is not None


def test_numbers_with_separators_that_turn_decimal_further_down_are_all_numbers(tmp_path):
    rows = [[f"{1000 + i:,}"] for i in range(300)] + [["1,234.5"]]
    amount = column(profile_of(tmp_path, csv_bytes(["amount"], rows), batch_rows=100), "amount")
    assert (amount["type"], amount["count"], amount.get("not_numbers")) == ("decimal", 301, 0)
    whole = column(profile_of(tmp_path, csv_bytes(["amount"], rows[:300]), batch_rows=100), "amount")
    assert whole["type"] == "integer"


def test_rows_that_differ_as_written_are_not_duplicates(tmp_path):
    rows = [[7, "n/a"], [7, "unknown"], [8, "1,000"], [8, "1000"]] + [[i, str(i)] for i in range(100)]
    assert profile_of(tmp_path, csv_bytes(["a", "b"], rows))["duplicate_rows"] == 0
