"""Numbers as a person reads them, the same on the page, in the spreadsheet and in the PDF:
3.25 and 9,876.5 (never 3.250), six significant digits, and a power of ten for values too large
or too small to read digit by digit (1.23 × 10¹⁵, 4.5 × 10⁻⁷)."""

import math

SIGNIFICANT = 6
SMALLEST_PLAIN = 1e-4
LARGEST_PLAIN = 1e15
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def significant(value: float, digits: int = SIGNIFICANT) -> float:
    """The value to `digits` significant digits, but never rounding away whole units: 1,234,567.891
    is 1,234,568, not 1,234,570 (what the page shows and every download writes)."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, max(0, digits - 1 - math.floor(math.log10(abs(value)))))


def plain_range(value) -> bool:
    """Whether the value is written digit by digit (else as a power of ten)."""
    return value == 0 or not math.isfinite(value) or SMALLEST_PLAIN <= abs(value) < LARGEST_PLAIN


def decimals(value: float) -> int:
    """How many decimals the formatted value shows (for a spreadsheet's number format)."""
    if isinstance(value, int) or value == 0 or not math.isfinite(value):
        return 0
    text = repr(significant(value))
    if "e" in text:
        return 0
    return len(text.partition(".")[2].rstrip("0"))


def format_number(value) -> str:
    """9,876.5 · 3.25 · 1,234,568 · 0.000123 · 1.23 × 10¹⁵; text and None pass through."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) < LARGEST_PLAIN else power_of_ten(float(value))
    if not math.isfinite(value):
        return "∞" if value > 0 else "−∞" if value < 0 else "not a number"
    if value == 0:
        return "0"
    if abs(value) >= LARGEST_PLAIN or abs(value) < SMALLEST_PLAIN:
        return power_of_ten(value)
    shown = significant(value)
    places = decimals(shown)
    return f"{shown:,.{places}f}"


def power_of_ten(value: float) -> str:
    mantissa, _, exponent = f"{value:.{SIGNIFICANT - 1}e}".partition("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa} × 10{str(int(exponent)).translate(SUPERSCRIPT)}"
