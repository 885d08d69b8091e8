"""Downloads of a result table as CSV, XLSX and PDF, safe to open whatever the cells hold."""

import csv
import io
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import matplotlib
import xlsxwriter
from fpdf import FPDF
from fpdf.fonts import FontFace

from reports.work import numbers

Cell = str | int | float | None
# Spreadsheet programs run a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# ...and a file opened with another separator (";" in much of Europe, tab, "|") or read past a
# line break starts a new cell inside ours: a formula start after one of those is as risky.
INNER_FORMULA = re.compile(r"[,;\t|\r\n]\s*[=+\-@]")


def neutralise(value: Cell) -> Cell:
    """Text a spreadsheet could run as a formula, at its start or after any separator or line
    break, gets a leading apostrophe (and the CSV quotes every text field, so a separator inside
    one never starts a cell); numbers pass."""
    if isinstance(value, str) and (value.startswith(FORMULA_STARTS) or INNER_FORMULA.search(value)):
        return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow([neutralise(cell) for cell in header])
    for row in rows:
        writer.writerow(["" if cell is None else neutralise(cell) for cell in row])
    # A byte-order mark so Excel opens UTF-8 text as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(
    header: Sequence[str], rows: Sequence[Sequence[Cell]], sheet: str = "Report", readable: bool = False
) -> bytes:
    buffer = io.BytesIO()
    # strings_to_formulas off: text is always written as text, never evaluated.
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    worksheet = workbook.add_worksheet(sheet[:31])
    bold = workbook.add_format({"bold": True, "bottom": 1})
    # A number shows as on the page: grouped, with as many decimals as it has (9,876.5, 3.25).
    shapes = {places: workbook.add_format({"num_format": "#,##0" + ("." + "0" * places if places else "")})
              for places in range(10)}  # fmt: skip
    shapes["power"] = workbook.add_format({"num_format": "0.#####E+00"})  # 5E-05, as the page's 5 × 10⁻⁵
    # Plain strings: strings_to_formulas is off, so no text is ever a formula, and an apostrophe
    # would show in the cell.
    worksheet.write_row(0, 0, [str(cell) for cell in header], bold)
    widths = [len(str(cell)) for cell in header]
    for row_number, row in enumerate(rows, start=1):
        for column, cell in enumerate(row):
            if isinstance(cell, (int, float)) and not isinstance(cell, bool):
                if not readable:
                    shape = None
                elif numbers.plain_range(cell):
                    shape = shapes[min(numbers.decimals(cell), 9)]
                else:
                    shape = shapes["power"]
                worksheet.write_number(row_number, column, cell, shape)
            elif cell is not None:
                worksheet.write_string(row_number, column, str(cell))
            widths[column] = max(widths[column], len(str(cell)) if cell is not None else 0)
    for column, width in enumerate(widths):
        worksheet.set_column(column, column, min(max(width + 2, 8), 60))
    worksheet.freeze_panes(1, 0)
    workbook.close()
    return buffer.getvalue()


@cache
def unicode_font() -> Path:
    # matplotlib ships DejaVu Sans, so PDFs show any text from an upload without a system font.
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def format_cell(value: Cell, readable: bool = False) -> str:
    """A cell as the PDF shows it: amounts with two decimals, or (readable) as numbers.format_number
    writes figures of any size on the page (3.25, 9,876.5, 1.2 × 10⁻⁷)."""
    if readable:
        return numbers.format_number(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def fits_core_font(
    title: str, subtitle: str, header: Sequence[str], rows: Sequence[Sequence[Cell]], readable: bool = False
) -> bool:
    """Whether every character has a glyph in the PDF core fonts (their encoding is cp1252)."""
    text = "\n".join(
        [title, subtitle, *map(str, header), *(format_cell(cell, readable) for row in rows for cell in row)]
    )
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


LINE_HEIGHT = 5.5
HEADER_FILL = (232, 236, 241)
CELL_PADDING = 2.0  # mm, each side


def column_widths(pdf: FPDF, measured: list[list[float]]) -> list[float] | None:
    """Widths that fit every cell on one line, spread over the page; None if they cannot."""
    needed = [max(column) + 2 * CELL_PADDING for column in zip(*measured, strict=True)]
    if sum(needed) > pdf.epw:
        return None
    spare = (pdf.epw - sum(needed)) / len(needed)
    return [width + spare for width in needed]


def draw_table(pdf: FPDF, texts: list[list[str]], measured, widths: list[float], numeric: list[bool]) -> None:
    """One line per row, horizontal rules, the header shaded and repeated on each page.

    Text, rules and a shaded box drawn directly: fpdf2's table breaks every cell into lines,
    and even cell() shapes each one, which together took most of the time of a one-page PDF.
    This path is for tables whose cells all fit on one line; text is still plain text.
    """
    pdf.set_draw_color(200, 205, 212)
    pdf.set_fill_color(*HEADER_FILL)
    baseline = LINE_HEIGHT / 2 + 0.35 * pdf.font_size  # text vertically centred in its line

    def row(number: int, shaded: bool) -> None:
        x, y = pdf.l_margin, pdf.y
        if shaded:
            pdf.rect(x, y, sum(widths), LINE_HEIGHT, style="F")
        for text, text_width, width, right in zip(texts[number], measured[number], widths, numeric, strict=True):
            pdf.text(x + width - CELL_PADDING - text_width if right else x + CELL_PADDING, y + baseline, text)
            x += width
        pdf.line(pdf.l_margin, y + LINE_HEIGHT, x, y + LINE_HEIGHT)
        pdf.y = y + LINE_HEIGHT

    row(0, shaded=True)
    for number in range(1, len(texts)):
        if pdf.will_page_break(LINE_HEIGHT):
            pdf.add_page()
            row(0, shaded=True)
        row(number, shaded=False)
    pdf.x = pdf.l_margin


def to_pdf(
    title: str,
    subtitle: str,
    header: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    readable: bool = False,
    sideways: int = 0,
) -> bytes:
    """A table as PDF. fpdf2 draws cell text as plain text: markup in a cell is shown, not run.
    `sideways`: a table too wide for a page (a profile's statistics) turned on its side, the
    header down the left and that many rows at a time across."""
    pdf = FPDF(orientation="landscape" if len(header) > 6 or sideways else "portrait", format="A4")
    pdf.set_title(title)
    pdf.set_creator("Offload")
    if fits_core_font(title, subtitle, header, rows, readable):
        # A PDF viewer's own Helvetica: nothing to parse, embed or subset (most of the time of
        # a one-page table went there).
        pdf.set_font("Helvetica", size=9)
    else:
        pdf.add_font("DejaVu", fname=str(unicode_font()))
        pdf.set_font("DejaVu", size=9)
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_page()
    pdf.set_font(size=15)
    pdf.cell(text=title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(size=9)
    pdf.set_text_color(90, 100, 110)
    pdf.multi_cell(0, text=subtitle, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_text_color(20, 20, 20)
    if not sideways:
        add_table(pdf, header, rows, readable)
    for start in range(0, len(rows) if sideways else 0, sideways or 1):
        group = rows[start : start + sideways]
        turned = [[name, *(row[i] for row in group)] for i, name in enumerate(header[1:], start=1)]
        add_table(pdf, [header[0], *(str(row[0]) for row in group)], turned, readable)
        pdf.ln(4)
    return bytes(pdf.output())


def add_table(pdf: FPDF, header: Sequence[str], rows: Sequence[Sequence[Cell]], readable: bool) -> None:
    numeric = [all(isinstance(row[i], (int, float)) or row[i] is None for row in rows) for i in range(len(header))]
    texts = [[str(cell) for cell in header], *([format_cell(cell, readable) for cell in values] for values in rows)]
    measured = [[pdf.get_string_width(text) for text in line] for line in texts]
    widths = column_widths(pdf, measured)
    if widths:
        draw_table(pdf, texts, measured, widths, numeric)
    else:  # some text is too wide for one line: fpdf2's table wraps it (slower, as it measures every line)
        with pdf.table(
            headings_style=FontFace(emphasis="", fill_color=HEADER_FILL),
            line_height=LINE_HEIGHT,
            text_align=tuple("RIGHT" if is_number else "LEFT" for is_number in numeric),
            borders_layout="HORIZONTAL_LINES",
            repeat_headings=1,
        ) as table:
            for line in texts:
                table.row(line)
