"""Benchmarks do not run in `make test`; a tiny run of each does, so they cannot rot."""

from tests.benchmarks import thumbnails


def test_thumbnail_benchmark_runs_and_reports_both_methods():
    results = thumbnails.run(count=1, size=(640, 480))
    assert set(results) == {"naive", "ours"}
    assert all(result["seconds"] > 0 for result in results.values())
    table = thumbnails.report(results, 1, (640, 480))
    assert "time per photo" in table and "peak memory" in table
