"""Benchmarks do not run in `make test`; a tiny run of each does, so they cannot rot."""

import pytest

from tests.benchmarks import csv_profile, pdf, thumbnails


@pytest.mark.parametrize("benchmark", [thumbnails, csv_profile, pdf], ids=lambda module: module.__name__)
def test_each_offline_benchmark_runs_at_tiny_sizes_and_reports_ours_and_the_baseline(benchmark):
    figures = benchmark.run(smoke=True)
    assert figures
    for figure in figures:
        assert figure.ours > 0 and figure.baseline > 0 and figure.ratio > 0 and figure.met is not None
