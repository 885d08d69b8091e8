"""One codebase on htmx 2 and htmx 4 (OFFLOAD_HTMX): what each loads and how the few
attributes that differ are spelled for it."""

import base64
import hashlib
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from reports import htmx

pytestmark = pytest.mark.django_db
STATIC = Path(__file__).resolve().parents[2] / "static"


def test_the_vendored_htmx_4_matches_the_integrity_hashes_recorded_for_it():
    manifest = htmx.vendored()
    assert manifest["version"].startswith("4.0.")
    for file in manifest["files"].values():
        digest = hashlib.sha384((STATIC / file["path"]).read_bytes()).digest()
        assert file["integrity"] == "sha384-" + base64.b64encode(digest).decode()


def test_the_vendored_axe_core_matches_its_recorded_sha384():
    vendor = STATIC.parent / "tests" / "browser" / "vendor"
    sums = [line.split() for line in (vendor / "SHA384SUMS").read_text().splitlines() if line.strip()]
    assert sums and {name for _, name in sums} >= {"axe-core-4.14.1.min.js"}
    for digest, name in sums:
        assert hashlib.sha384((vendor / name).read_bytes()).hexdigest() == digest, name


def test_htmx_4_pages_load_the_vendored_files_with_their_integrity(owner_client, settings):
    settings.OFFLOAD_HTMX = 4
    page = owner_client.get(reverse("home")).content.decode()
    for file in htmx.vendored()["files"].values():
        assert f'src="/static/{file["path"]}" integrity="{file["integrity"]}"' in page
    assert "django_htmx/htmx-2" not in page and "noSwap" in page
    assert 'hx-headers:inherited="{&quot;X-CSRFToken&quot;: ' in page


def test_htmx_2_pages_load_django_htmxs_copy_and_its_spelling(owner_client, settings):
    settings.OFFLOAD_HTMX = 2
    page = owner_client.get(reverse("home")).content.decode()
    assert "django_htmx/htmx-2.min.js" in page and "responseHandling" in page and "hx-headers=" in page
    assert "vendor/htmx-4" not in page and "hx-headers:inherited" not in page


@pytest.mark.parametrize(
    ("version", "spelled"),
    [
        (4, 'hx-sse:connect="/events/"'),
        (2, 'hx-ext="sse" sse-connect="/events/" sse-swap="message"'),
    ],
)
def test_a_stream_is_opened_as_each_version_spells_it(settings, version, spelled):
    settings.OFFLOAD_HTMX = version
    assert htmx.attribute("sse:connect", "/events/") == spelled


def test_the_disabled_elements_attribute_is_never_htmx_2s_hx_disable(settings):
    settings.OFFLOAD_HTMX = 2  # where hx-disable means "ignore htmx here"
    assert htmx.attribute("disable", "find button") == 'hx-disabled-elt="find button"'
    settings.OFFLOAD_HTMX = 4
    assert htmx.attribute("disable", "find button") == 'hx-disable="find button"'


def test_a_poller_takes_over_when_htmx_4_is_refused_a_stream_or_loses_it(settings):
    settings.OFFLOAD_HTMX = 4
    assert htmx.stream_failed("#s") == "htmx:sse:error from:#s"
    assert htmx.stream_failed("closest .live") == 'htmx:sse:error from:"closest .live"'
    settings.OFFLOAD_HTMX = 2
    assert htmx.stream_failed("#s") == "htmx:sseError from:#s"


def test_an_unknown_version_is_a_clear_error(settings):
    settings.OFFLOAD_HTMX = 3
    with pytest.raises(ImproperlyConfigured, match="choose 2 or 4"):
        htmx.version()
