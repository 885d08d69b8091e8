"""The quick check of a CSV upload's first bytes, run in the form before any job is made.

Standard library only: the web process runs it and never loads polars (see `profiling`).
"""

import csv
import io
from dataclasses import dataclass

from reports.engine.problems import InputProblem

SAMPLE_BYTES = 256 * 1024
SEPARATORS = ",;\t|"


class CsvProblem(InputProblem):
    """Something about the file that the person who uploaded it can fix; the text says what."""


@dataclass(frozen=True)
class CsvLayout:
    separator: str
    columns: int


def inspect_sample(sample: bytes, is_whole_file: bool) -> CsvLayout:
    """Check the start of an upload quickly, so most bad files are refused in the form."""
    if not sample.strip():
        raise CsvProblem("The file is empty.")
    if b"\x00" in sample:
        raise CsvProblem("This is a binary file, not a CSV. Export your data as CSV (text) and try again.")
    if not is_whole_file:
        # The sample may end inside a multi-byte character or a row; judge complete lines only.
        sample = sample[: sample.rfind(b"\n") + 1] or sample
    try:
        text = sample.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = sample[: exc.start].count(b"\n") + 1
        raise CsvProblem(
            f"The file is not UTF-8 text (first bad byte on line {line}). Save it as “CSV UTF-8” and upload it again."
        ) from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise CsvProblem("The first line is blank: a CSV needs a header row with the column names.")
    try:
        separator = csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=SEPARATORS).delimiter
    except csv.Error:
        separator = ","
    # newline="": the csv module's own line handling, so a lone \r (old Mac files) is a line end.
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    try:
        header = next(rows)
        if len(set(header)) != len(header):
            duplicates = sorted({name for name in header if header.count(name) > 1})
            raise CsvProblem(
                f"The header repeats a column name: {', '.join(duplicates)}. Each column needs its own name."
            )
        for number, row in enumerate(rows, start=2):
            if row and len(row) != len(header):
                raise CsvProblem(
                    f"Row {number} has {len(row)} fields but the header has {len(header)}. "
                    "Check for a missing or extra separator or an unclosed quote."
                )
    except csv.Error as error:
        raise CsvProblem(f"The file could not be read as CSV near line {rows.line_num}: {error}.") from None
    if len(lines) < 2:
        raise CsvProblem("The file has a header but no data rows.")
    return CsvLayout(separator=separator, columns=len(header))
