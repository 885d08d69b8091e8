import statistics

import pytest

from reports.work import csv_sample, profiling
from tests.support import csv_bytes, people_csv


def write(tmp_path, content: bytes, name="data.csv"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def profile_of(tmp_path, content: bytes, separator=","):
    return profiling.profile(profiling.load(write(tmp_path, content), separator))


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
    assert types == {"name": "text", "age": "integer", "joined": "date", "score": "decimal", "team": "text"}
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


def test_a_value_far_down_that_changes_the_type_is_read_correctly(tmp_path):
    rows = [[i] for i in range(20_000)] + [["n/a"]]
    result = profile_of(tmp_path, csv_bytes(["code"], rows))
    code = column(result, "code")
    assert code["type"] == "text" and code["count"] == 20_001


def test_a_ragged_row_past_the_sample_is_a_clear_problem(tmp_path):
    rows = [[i, i] for i in range(30_000)] + [[1, 2, 3]]
    with pytest.raises(profiling.CsvProblem, match="more fields than the header"):
        profiling.load(write(tmp_path, csv_bytes(["a", "b"], rows)), ",")


def test_reading_reports_progress_as_rows_arrive(tmp_path):
    path = write(tmp_path, csv_bytes(["a", "b"], [[i, i * 2] for i in range(250_000)]))
    seen = []
    profiling.load(path, ",", lambda percent, step="": seen.append((percent, step)))
    assert len(seen) >= 3
    assert [p for p, _ in seen] == sorted(p for p, _ in seen)
    assert "250,000 rows" in seen[-1][1]


def test_text_from_the_file_is_kept_as_text(tmp_path):
    result = profile_of(tmp_path, csv_bytes(["note"], [["<script>alert(1)</script>"]] * 3))
    assert column(result, "note")["top"] == [["<script>alert(1)</script>", 3]]


def test_a_uniform_whole_number_column_has_a_flat_histogram():
    import polars as pl

    histogram = profiling.histogram
    months = histogram(pl.Series("month", list(range(1, 13)) * 10))
    assert len(set(months["counts"])) == 1  # ten equal bins over 1..12 would make it U-shaped
    assert months["edges"][0] == 0.5 and months["edges"][-1] == 12.5
    wide = histogram(pl.Series("id", range(1000)))
    assert wide["counts"] == [100] * 10
    assert histogram(pl.Series("price", [0.5, 1.5, 2.5]))["counts"].count(1) == 3


def test_a_date_in_year_zero_is_profiled_not_a_crash(tmp_path):
    # Found by the fuzz test: "0-1-1" reads as a date no Python date can hold.
    result = profile_of(tmp_path, b"when\n0-1-1\n2025-01-31\n")
    assert column(result, "when")["latest"] == "2025-01-31"
