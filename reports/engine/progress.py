"""The progress callback that pure work functions receive, and a helper to map sub-steps."""

from typing import Protocol


class Progress(Protocol):
    def __call__(self, percent: float, step: str = "") -> None: ...


def scaled(progress: Progress, start: float, end: float) -> Progress:
    """A callback that maps 0–100 of a sub-step onto start–end of the whole job."""

    def report(percent: float, step: str = "") -> None:
        progress(start + (end - start) * max(0.0, min(percent, 100.0)) / 100.0, step)

    return report


def ignore(percent: float, step: str = "") -> None:
    """For callers that do not track progress (tests, the shell)."""
