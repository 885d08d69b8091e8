"""The sales summary's PDF download: our exports.to_pdf (fpdf2) against the same table drawn
with ReportLab directly (platypus: a title, a subtitle, a table with a shaded header row,
right-aligned numbers, the same font: Helvetica when the text allows, else DejaVu embedded). Both run here, alternately, after a warm-up."""

import io
import statistics
import time
from datetime import date

import polars as pl
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from reports.work import exports, runs, sales, sales_query

from .figures import Figure

NAME = "7. Report PDF"


def sales_pdf_input(orders: int) -> tuple[str, str, list[str], list[list]]:
    """The sales summary by month over the whole demo range: the longest table the report makes."""
    query = sales.SalesQuery(sales.FIRST_DAY, sales.LAST_DAY, "month", "revenue")
    summary = sales.summarise(pl.LazyFrame(sales.generate_orders(orders)), query)
    header, rows = runs.sales_table(summary)
    return "Sales summary", sales_query.subtitle(query), header, rows


def reportlab_pdf(title: str, subtitle: str, header: list[str], rows: list[list]) -> bytes:
    font = "Helvetica"  # ReportLab's default, as a hand-written report would use, where the text allows
    if not exports.fits_core_font(title, subtitle, header, rows):
        font = "DejaVu"
        if font not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(font, str(exports.unicode_font())))
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=10 * mm, rightMargin=10 * mm, title=title)
    numeric = [all(isinstance(row[i], (int, float)) for row in rows) for i in range(len(header))]
    table = Table([header, *[[exports.format_cell(cell) for cell in row] for row in rows]], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), font, 9),
                ("BACKGROUND", (0, 0), (-1, 0), colors.Color(232 / 255, 236 / 255, 241 / 255)),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.grey),
                *[("ALIGN", (i, 0), (i, -1), "RIGHT") for i, is_number in enumerate(numeric) if is_number],
            ]
        )
    )
    document.build(
        [
            Paragraph(title, ParagraphStyle("title", fontName=font, fontSize=15, leading=18)),
            Paragraph(subtitle, ParagraphStyle("subtitle", fontName=font, fontSize=9, textColor=colors.grey)),
            Spacer(0, 3 * mm),
            table,
        ]
    )
    return buffer.getvalue()


def run(smoke: bool = False) -> list[Figure]:
    orders, rounds = (2_000, 2) if smoke else (200_000, 40)
    document = sales_pdf_input(orders)
    exports.to_pdf(*document), reportlab_pdf(*document)  # warm-up: imports, fonts
    ours, theirs = [], []
    for _ in range(rounds):
        for function, times in ((exports.to_pdf, ours), (reportlab_pdf, theirs)):
            started = time.perf_counter()
            function(*document)
            times.append(1000 * (time.perf_counter() - started))
    what = f"{len(document[3])} rows (by month, {date(2024, 1, 1):%Y}–{date(2025, 12, 31):%Y}), median of {rounds} each"
    return [
        Figure(NAME, "time per PDF", statistics.median(ours), statistics.median(theirs), "ms",
               goal="≤ 1.5×", note=what).check(lambda r: r <= 1.5),
    ]  # fmt: skip
