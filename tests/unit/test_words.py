"""How the pages and emails say things: durations, and a kind's name inside a sentence."""

from datetime import timedelta

import pytest

from reports.kinds import in_sentence
from reports.templatetags.offload import duration


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0.04, "under 0.1 s"),
        (1.08, "1.1 s"),
        (9.94, "9.9 s"),
        (9.96, "10 s"),
        (12.4, "12 s"),
        (185, "3 min 5 s"),
        (7440, "2 h 4 min"),
    ],
)
def test_a_duration_is_as_precise_as_a_person_wants(seconds, said):
    assert duration(timedelta(seconds=seconds)) == said


def test_no_duration_says_nothing():
    assert duration(None) == ""


@pytest.mark.parametrize(
    ("label", "said"), [("Sales summary", "sales summary"), ("CSV profile", "CSV profile"), ("Mailing", "mailing")]
)
def test_a_kind_inside_a_sentence_keeps_its_acronyms(label, said):
    assert in_sentence(label) == said


def test_a_histograms_axis_reads_whole_numbers_as_whole():
    from reports.templatetags.offload import histogram_range

    assert histogram_range({"edges": [0.5, 6.5, 12.5], "whole": True}) == ("1", "12")
    assert histogram_range({"edges": [3.5, 20.0, 42.0]}) == ("3.5", "42")
    assert histogram_range({"edges": [0.0, 1500000.0]}) == ("0", "1,500,000")
