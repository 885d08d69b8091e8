"""Errors whose message is meant for the person who started the job, shown as it is."""


class InputProblem(ValueError):
    """Something about the input the user can fix (a bad file, an impossible parameter)."""
