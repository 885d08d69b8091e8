"""Presentation filters for job pages: durations, job descriptions, histogram bars."""

import json
from datetime import timedelta

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import pluralize
from django.template.defaulttags import CsrfTokenNode
from django.urls import reverse
from django.utils.dateparse import parse_duration
from django.utils.http import urlencode

from reports import htmx, kinds
from reports.live import polling
from reports.live.fragments import streams_available
from reports.operations import bulk
from reports.operations.durations import whole_seconds
from reports.work import numbers

register = template.Library()


@register.simple_tag
def htmx_head() -> str:
    """htmx's configuration and scripts, for the version the pages load (reports/htmx.py)."""
    return htmx.head()


@register.simple_tag
def hx(name: str, value: str = "") -> str:
    """An htmx attribute written the htmx 4 way (`{% hx "headers:inherited" value %}`), rendered
    as the loaded htmx spells it (reports/htmx.py)."""
    return htmx.attribute(name, value)


@register.simple_tag(takes_context=True)
def hx_csrf_header(context) -> str:
    """The CSRF token as a header every htmx request on the page sends (`hx-headers:inherited`)."""
    return htmx.attribute("headers:inherited", json.dumps({"X-CSRFToken": str(context.get("csrf_token", ""))}))


@register.simple_tag
def user_stream_url(ids=None) -> str:
    """The person's event stream, watching the My jobs rows of `ids` as well as their notices."""
    url = reverse("user_events")
    return f"{url}?{urlencode({'ids': ','.join(str(i) for i in ids)})}" if ids else url


@register.simple_tag
def stream_failed(source: str) -> str:
    """hx-trigger's value for a poller that takes over when the stream of `source` fails."""
    return htmx.stream_failed(source)


@register.filter
def duration(value: timedelta | None) -> str:
    """1.1 s, 12 s, 3 min 5 s, 2 h 4 min: as precise as a person watching wants (a short job's
    tenths matter: "0 s" for a run that took a second reads as if nothing ran)."""
    if value is None:
        return ""
    seconds = value.total_seconds()
    if seconds < 0.1:
        return "under 0.1 s"
    if round(seconds, 1) < 10:  # 9.95 s rounds to 10 s, said as "10 s", never "10.0 s"
        return f"{seconds:.1f} s"
    return whole_seconds(round(seconds))


register.filter("rough_duration", polling.rough_duration)
register.filter("bulk_outcome", bulk.outcome_words)


@register.filter
def kind_in_sentence(job) -> str:
    """The job's kind as a sentence says it: "your sales summary", "your CSV profile"."""
    return kinds.in_sentence(job.get_kind_display())


@register.filter
def how_it_ended(job) -> str:
    """ "Your CSV profile is ready": a notice's title, and what a screen reader hears as it ends."""
    kind = kinds.in_sentence(job.get_kind_display())
    ending = {"succeeded": "is ready", "failed": "failed"}.get(job.status, "was cancelled")
    return f"Your {kind} {ending}"


@register.filter
def job_summary(job) -> str:
    """One line saying what the job is about, from its parameters."""
    kind = kinds.REGISTRY.get(job.kind)
    return kind.describe(job.params) if kind else ""


@register.filter
def summary_items(result: dict | None) -> list[tuple[str, str]]:
    """A result's plain values (numbers, words, yes/no) as labelled figures, for a kind that
    shows its result with the default partial: `sent_count` becomes "Sent count"."""
    items = []
    for name, value in (result or {}).items():
        if name == "subtitle" or value is None or isinstance(value, (dict, list)):
            continue
        if isinstance(value, bool):
            shown = "Yes" if value else "No"
        elif isinstance(value, (int, float)):
            shown = intcomma(value)
        else:
            shown = str(value)
        items.append((name.replace("_", " ").capitalize(), shown))
    return items


@register.filter
def schedule_summary(schedule) -> str:
    """One line saying what each run of a schedule makes, from its parameters."""
    kind = kinds.REGISTRY.get(schedule.kind)
    return kind.describe(schedule.params) if kind else ""


@register.filter
def histogram_range(histogram: dict | None) -> tuple[str, str]:
    """The ends of a histogram's axis, as a person reads them: 1 and 12 for whole-number bins."""
    if not histogram:
        return ("", "")
    low, high = histogram["edges"][0], histogram["edges"][-1]
    if histogram.get("whole"):
        low, high = low + 0.5, high - 0.5
    return (axis_number(low), axis_number(high))


def axis_number(value: float) -> str:
    return numbers.format_number(int(value) if float(value).is_integer() and abs(value) < 1e15 else value)


# A number as the profile's page, spreadsheet and PDF all show it: 3.25, 9,876.5, 1.2 × 10⁻⁷.
register.filter("number", numbers.format_number)

HEAT_CELL = 34
HEAT_LABEL = 120
NEGATIVE, NEUTRAL, POSITIVE = (33, 102, 172), (247, 247, 247), (178, 24, 43)


def heat_colour(r: float | None) -> tuple[str, str]:
    """A cell's fill (blue for −1, near-white for 0, red for +1) and the text colour that reads
    best on it (black or white, by contrast)."""
    if r is None:
        return "#e4e7eb", "#1f2933"
    end = POSITIVE if r > 0 else NEGATIVE
    rgb = [round(n + (e - n) * abs(r)) for n, e in zip(NEUTRAL, end, strict=True)]
    linear = [(c / 255 / 12.92) if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    on_black, on_white = (luminance + 0.05) / 0.05, 1.05 / (luminance + 0.05)
    return "#{:02x}{:02x}{:02x}".format(*rgb), "#000000" if on_black >= on_white else "#ffffff"


@register.filter
def heatmap(correlations: dict | None) -> dict | None:
    """The correlation table laid out as an SVG heat map: cells, labels and its size."""
    if not correlations or "columns" not in correlations:
        return None
    names, size = correlations["columns"], HEAT_CELL
    # Room for the names: at most 16 characters of about 7 px each (longer ones are cut).
    label = min(HEAT_LABEL, 12 + 7 * max(min(len(name), 16) for name in names))
    cells = []
    for row, values in enumerate(correlations["matrix"]):
        for column, r in enumerate(values):
            fill, ink = heat_colour(r)
            cells.append({
                "x": label + column * size, "y": label + row * size, "fill": fill, "ink": ink,
                "text": "–" if r is None else f"{r:.2f}".replace("-", "−").replace("0.", ".", 1),
                "about": f"{names[row]} and {names[column]}: " + ("not enough values" if r is None else f"r = {r:.2f}"),
            })  # fmt: skip
    side = label + len(names) * size
    labels = [{"name": name, "at": label + (i + 0.5) * size} for i, name in enumerate(names)]
    # The names along the top lean right at 45°: the last one reaches past the grid by ~0.7 of its length.
    width = side + round(0.7 * label)
    return {"cells": cells, "labels": labels, "size": size, "side": side, "width": width, "label_edge": label - 6}


@register.filter
def histogram_bars(histogram: dict | None) -> list[dict]:
    """Each bin with its height as a percentage of the tallest, for a CSS bar chart."""
    if not histogram:
        return []
    counts, edges = histogram["counts"], histogram["edges"]
    tallest = max(counts) or 1
    return [
        {"count": count, "low": edges[i], "high": edges[i + 1], "height": round(100 * count / tallest, 1)}
        for i, count in enumerate(counts)
    ]


@register.filter
def active_ids(jobs) -> list[str]:
    """The ids of the queued or running jobs in a list, for the one poller that refreshes them."""
    return [str(job.pk) for job in jobs if job.is_active]


@register.inclusion_tag("reports/notices.html", takes_context=True)
def notices(context, oob: bool = False) -> dict:
    """The notices area of a page, or (oob) its update in a fragment, from what the view or stream
    found and marked (`notice_updates`, fragments.with_notices): it reads and writes nothing.
    Without them a page shows an empty area and a fragment leaves the page's area as it is."""
    updates = context.get("notice_updates")
    shown = updates is not None
    updates = updates or {"notices": [], "poll": False}
    return {**updates, "oob": oob, "shown": shown, "streams": not oob and streams_available(context["request"])}


@register.simple_tag(takes_context=True)
def form_token(context) -> str:
    """A form's CSRF input on a whole page, so its forms work without JavaScript; never in a
    fragment, polled (an htmx answer) or pushed (a stream's): there htmx posts the form with the
    page's token as a header (base.html). One mechanism for both: a token rendered into every
    poll would renew the CSRF cookie on every poll, and its fresh mask would make every push of
    an unchanged fragment look like a change."""
    request = context.get("request")
    if context.get("pushed") or getattr(request, "htmx", False):
        return ""
    return CsrfTokenNode().render(context)


@register.filter
def percent_points(error: float | None) -> str:
    """A quantile's margin (0.001) in percentile points ("0.1")."""
    return "" if error is None else f"{100 * error:.2g}"


@register.filter
def percent_of(error: float | None) -> str:
    return "" if error is None else f"{100 * error:.1f} %"


QUANTILE_LABELS = {
    "p05": "5th percentile",
    "p25": "25th percentile",
    "median": "Median",
    "p75": "75th percentile",
    "p95": "95th percentile",
}


@register.filter
def quantile_values(column: dict) -> list[tuple[str, object]]:
    return [(label, column.get(name)) for name, label in QUANTILE_LABELS.items()]


@register.filter
def correlation_rows(correlations: dict) -> list[dict]:
    return [
        {"name": name, "values": values}
        for name, values in zip(correlations["columns"], correlations["matrix"], strict=True)
    ]


@register.filter
def profile_alerts(result: dict) -> list[dict]:
    """Every alert of the file and its columns, the file's first, each naming its column."""
    flagged = [dict(alert) for alert in result.get("alerts", [])]
    for column in result.get("columns", []):
        flagged += [{**alert, "column": column["name"]} for alert in column.get("alerts", [])]
    return flagged


@register.filter
def iso_duration(value) -> str:
    """django-axes gives its cool-off as ISO 8601 ("PT15M"): "15 minutes"."""
    delta = parse_duration(str(value)) if value else None
    if delta is None:
        return ""
    minutes = round(delta.total_seconds() / 60)
    if minutes < 60 or minutes % 60:
        return f"{minutes} minute{pluralize(minutes)}"
    hours = minutes // 60
    return f"{hours} hour{pluralize(hours)}"
