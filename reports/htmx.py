"""Which htmx the pages load (OFFLOAD_HTMX: 2 or 4), and the few places the two differ.

The templates are written the htmx 4 way. Where htmx 2 spells a thing differently, a template
asks for it through the `hx`, `hx_csrf_header` and `stream_failed` tags
(reports/templatetags/offload.py), and this module gives htmx 2's spelling when the pages load
htmx 2:

- attribute inheritance is explicit in htmx 4 (`hx-headers:inherited`), implicit in htmx 2;
- `hx-disable` is htmx 2's `hx-disabled-elt` (and htmx 2's own `hx-disable` means "ignore");
- server-sent events: `hx-sse:connect` / `hx-sse:close` in htmx 4, where each unnamed message is
  swapped; the sse extension's `sse-connect` / `sse-swap="message"` / `sse-close` in htmx 2;
- a stream that fails: htmx 2 says `htmx:sseError`, htmx 4 `htmx:sse:error` when a reconnection
  fails (`stream_failed`). A stream refused at its first connection (a 429 or 503) needs no
  event: the page it was refused on is still polling. htmx 2's EventSource tries such a stream
  again by itself; htmx 4 does not (a page refused a stream polls until it is reloaded: a timer
  to try again would also reopen a stream that ended as it should);
- the `HX-Target` request header: an id in htmx 2, `tag#id` in htmx 4 (`target_id`);
- configuration: htmx 4 gives up on a request after 60 s unless told (`defaultTimeout`: 0, as
  htmx 2, since an upload of 200 MB on a slow line takes longer); htmx 4 swaps every status but
  204 and 304 unless told (`noSwap`), htmx 2 only 2xx and 3xx unless told (`responseHandling`):
  both are told the same thing, that an error page is never swapped into a fragment, and the
  report form asks for its 429 by `hx-status:429` (htmx 2: the 429 entry below).

htmx 2 is django-htmx's bundled copy; htmx 4 is the npm package's built file, vendored into
static/vendor by `make vendor`, with the integrity hash recorded there and checked by the browser.
"""

import json
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.templatetags.static import static
from django.utils.html import format_html, format_html_join

VERSIONS = (2, 4)
MANIFEST = Path(__file__).resolve().parent.parent / "static" / "vendor" / "htmx-4.json"

CONFIG = {
    2: {"includeIndicatorStyles": False, "allowEval": False, "allowScriptTags": False,
        "responseHandling": [{"code": "204", "swap": False}, {"code": "[23]..", "swap": True},
                             {"code": "429", "swap": True}, {"code": "[45]..", "swap": False, "error": True}]},
    4: {"includeIndicatorCSS": False, "noSwap": [204, 304, "4xx", "5xx"], "defaultTimeout": 0,
        # A stream that ends (its periodic renewal) comes back after 2 s, as the server's `retry:` asks htmx 2.
        "sse": {"reconnectDelay": 2000}},
}  # fmt: skip

# htmx 4's attribute (after "hx-") -> htmx 2's attributes, as name=value pairs ("" takes the value).
ATTRIBUTES_2 = {
    "headers:inherited": [("hx-headers", "")],
    "disable": [("hx-disabled-elt", "")],
    "sse:connect": [("hx-ext", "sse"), ("sse-connect", ""), ("sse-swap", "message")],
    "sse:close": [("sse-close", "")],
}


def version() -> int:
    chosen = settings.OFFLOAD_HTMX
    if chosen not in VERSIONS:
        raise ImproperlyConfigured(f"OFFLOAD_HTMX is {chosen!r}: choose 2 or 4.")
    return chosen


@cache
def vendored() -> dict:
    """htmx 4's files and their integrity hashes, as `make vendor` recorded them."""
    return json.loads(MANIFEST.read_text())


def head() -> str:
    """The <meta> with htmx's configuration and the <script> tags, for base.html's <head>."""
    config = format_html('<meta name="htmx-config" content="{}">', json.dumps(CONFIG[version()], separators=(",", ":")))
    if version() == 2:
        paths = [("django_htmx/htmx-2.min.js", ""), ("django_htmx/ext/hx-sse-2.min.js", "")]
    else:
        files = vendored()["files"]
        paths = [(files[name]["path"], files[name]["integrity"]) for name in ("htmx", "sse")]
    # htmx 4 starts itself on a timer when its script runs after the page has been parsed (a
    # deferred script), which can come before a deferred extension has registered: a page would
    # then open no stream at all, now and then. Parser-blocking scripts make it wait for
    # DOMContentLoaded, by which time the extension has registered. htmx 2 always waits for it.
    defer = " defer" if version() == 2 else ""
    scripts = format_html_join(
        "", '<script src="{}"{}{}></script>', ((static(path), integrity_attribute(sri), defer) for path, sri in paths)
    )
    return config + scripts


def integrity_attribute(sri: str) -> str:
    return format_html(' integrity="{}"', sri) if sri else ""


def attribute(name: str, value: str) -> str:
    """`hx-<name>="<value>"` as the loaded htmx spells it (`name` the htmx 4 way)."""
    if version() == 4:
        return format_html('hx-{}="{}"', name, value)
    pairs = ATTRIBUTES_2.get(name, [(f"hx-{name}", "")])
    return format_html_join(" ", '{}="{}"', ((attr, fixed or value) for attr, fixed in pairs))


def target_id(request) -> str:
    """The id of the element a request will swap: htmx 2 sends `HX-Target: job-row-1`, htmx 4
    `HX-Target: tr#job-row-1`."""
    target = (request.htmx.target if getattr(request, "htmx", None) else None) or ""
    return target.rpartition("#")[2]  # a tag alone (htmx 4, a target without an id) matches no id we ask about


def stream_failed(source: str) -> str:
    """An hx-trigger for a poller that takes over when the stream of `source` (an element, as
    hx-trigger's `from:` names it) is lost."""
    if version() == 2:
        return f"htmx:sseError from:{source}"
    # htmx 4 reads the modifiers as HCON: a value with a space is quoted.
    quoted = f'"{source}"' if " " in source else source
    return f"htmx:sse:error from:{quoted}"
