"""Benchmarks do not run in `make test`; a tiny run of each does, so they cannot rot."""

import math

import pytest

from tests.benchmarks import __main__ as bench
from tests.benchmarks import csv_profile, pdf


@pytest.mark.parametrize("benchmark", [csv_profile, pdf], ids=lambda module: module.__name__)
def test_each_offline_benchmark_runs_at_tiny_sizes_and_reports_ours_and_the_baseline(benchmark):
    figures = benchmark.run(smoke=True)
    assert figures
    for figure in figures:
        assert figure.ours > 0 and figure.baseline > 0 and figure.ratio > 0
        # A figure with a goal says whether it holds; one only reported for comparison does not.
        assert (figure.met is None) == (figure.goal == "report"), figure


@pytest.mark.integration
@pytest.mark.parametrize("module", ["pipeline", "web", "thumbnails", "push", "scale_out", "operations"])
def test_each_benchmark_on_the_whole_stack_runs_at_tiny_sizes(module):
    """Its own Redis, database, worker and web servers, in a process of its own."""
    figures = bench.run_one(module, smoke=True)
    assert {figure.benchmark for figure in figures} >= {
        "pipeline": {"1. Click to start", "4. Throughput"},
        "web": {"2. Status fragment", "3. Watchers", "8. Polling cost"},
        "thumbnails": {"6. Thumbnails"},
        "push": {"9. Push"},
        "scale_out": {"10. Scale-out memory", "11. Scaling curve"},
        "operations": {"12. Operations performance"},
    }[module]
    # At these sizes a count may be 0 (two pages over 3 s can use less CPU than psutil's 10 ms
    # tick; a loaded machine may hold no page under the latency limit); a page that never opened
    # or a run that measured nothing gives NaN.
    for figure in figures:
        assert math.isfinite(figure.ours) and figure.ours >= 0, figure
        assert figure.baseline is None or (math.isfinite(figure.baseline) and figure.baseline >= 0), figure
