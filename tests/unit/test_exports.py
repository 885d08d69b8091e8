import csv
import io
import zipfile

import pytest
from pypdf import PdfReader

from reports.work import exports

HEADER = ["Name", "Amount"]
HOSTILE = ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "<b>bold</b> <script>x</script>"]


@pytest.mark.parametrize("text", HOSTILE[:5])
def test_formula_text_is_neutralised(text):
    assert exports.neutralise(text) == "'" + text


@pytest.mark.parametrize("value", [-3, 2.5, "plain", "", None, "a=b"])
def test_numbers_and_plain_text_pass_unchanged(value):
    assert exports.neutralise(value) == value


def test_csv_cells_cannot_start_a_formula():
    rows = [[text, -1.5] for text in HOSTILE]
    parsed = list(csv.reader(io.StringIO(exports.to_csv(HEADER, rows).decode("utf-8-sig"))))
    assert parsed[0] == HEADER
    for (name, amount), text in zip(parsed[1:], HOSTILE, strict=True):
        assert not name.startswith(("=", "+", "-", "@", "\t"))
        assert name.endswith(text.lstrip("\t")) and amount == "-1.5"


@pytest.mark.parametrize("separator", [",", ";", "\t", "|"])
def test_csv_opened_with_another_separator_or_past_a_line_break_starts_no_formula(separator):
    # Excel in much of Europe opens a .csv with ";" as its separator: every text field is quoted,
    # so a separator inside one never starts a cell, and the risky ones carry an apostrophe too.
    risky = ["a;=1+1", "b,=2+2", "c\n=3+3", "d\t@SUM(A1)", "e| -4+4", "f;plain"]
    content = exports.to_csv(HEADER, [[text, 1] for text in risky]).decode("utf-8-sig")
    for row in csv.reader(io.StringIO(content), delimiter=separator):
        assert not any(cell.lstrip().startswith(("=", "+", "-", "@")) for cell in row), row
    parsed = list(csv.reader(io.StringIO(content)))
    assert [row[0] for row in parsed[1:]] == ["'a;=1+1", "'b,=2+2", "'c\n=3+3", "'d\t@SUM(A1)", "'e| -4+4", "f;plain"]


def test_xlsx_holds_text_as_text_and_numbers_as_numbers():
    content = exports.to_xlsx(HEADER, [[text, 7] for text in HOSTILE])
    with zipfile.ZipFile(io.BytesIO(content)) as workbook:
        sheet = workbook.read("xl/worksheets/sheet1.xml").decode()
        strings = workbook.read("xl/sharedStrings.xml").decode()
    assert "<f>" not in sheet  # no formula cells at all
    assert "=HYPERLINK" in strings and "'=HYPERLINK" not in strings and "&apos;=HYPERLINK" not in strings
    assert "<v>7</v>" in sheet


def test_pdf_shows_markup_and_any_script_as_plain_text():
    content = exports.to_pdf("Title", "Sub", HEADER, [[text, 1] for text in HOSTILE] + [["Zoë Ångström", 2]])
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    assert "<b>bold</b> <script>x</script>" in text
    assert "Zoë Ångström" in text


def test_long_tables_flow_onto_more_pages_with_the_header_on_each():
    content = exports.to_pdf("Title", "Sub", HEADER, [[f"row {i}", i] for i in range(400)])
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]
    assert len(pages) > 3
    assert all(HEADER[0] in page for page in pages)
    assert all(f"row {i}" in "".join(pages) for i in (0, 199, 399))


def test_a_cell_too_wide_for_one_line_wraps_and_keeps_all_its_text():
    long = " ".join(f"word{i}" for i in range(80))
    content = exports.to_pdf("Title", "Sub", HEADER, [[long, 1], ["short", 2]])
    text = " ".join(PdfReader(io.BytesIO(content)).pages[0].extract_text().split())
    assert "word0" in text and "word79" in text and "short" in text


def test_latin_text_uses_the_viewers_font_and_other_scripts_embed_one():
    assert b"/FontFile2" not in exports.to_pdf("Title", "Sub", HEADER, [["Zoë", 1]])
    assert b"/FontFile2" in exports.to_pdf("Title", "Sub", HEADER, [["東京", 1]])


def test_making_a_pdf_fetches_nothing_from_outside(monkeypatch):
    """Cells naming outside resources stay text; the renderer opens no connection at all."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError(f"the PDF renderer tried to connect: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    hostile = ['<img src="http://127.0.0.1:9/x.png">', "url(http://127.0.0.1:9/font.ttf)", "file:///etc/passwd"]
    content = exports.to_pdf("Title", "Sub", HEADER, [[text, 1] for text in hostile])
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    assert all(item in text for item in hostile)
    assert b"/URI" not in content  # no link annotations either


def test_readable_xlsx_shows_numbers_as_the_page_does():
    content = exports.to_xlsx(["Figure", "Value"], [["price", 9876.5], ["tiny", 5e-05], ["count", 1234]], readable=True)
    with zipfile.ZipFile(io.BytesIO(content)) as workbook:
        styles = workbook.read("xl/styles.xml").decode()
        sheet = workbook.read("xl/worksheets/sheet1.xml").decode()
    assert 'formatCode="#,##0.0"' in styles and 'formatCode="0.#####E+00"' in styles
    assert "<v>5E-05</v>" in sheet or "<v>5.0000000000000002E-05</v>" in sheet or "5e-05" in sheet.lower()
