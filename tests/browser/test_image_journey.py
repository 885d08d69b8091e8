"""A person uploads three photos, watches the tiles fill in and downloads the ZIP."""

import zipfile

import pytest
from playwright.sync_api import expect

from tests.support import jpeg_bytes, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_upload_three_images_see_the_gallery_and_download_the_zip(
    page, live_server, user, celery_worker_process, tmp_path
):
    paths = []
    for number, size in enumerate([(2400, 1600), (1600, 2400), (1200, 1200)], start=1):
        path = tmp_path / f"holiday-{number}.jpg"
        path.write_bytes(jpeg_bytes(*size))
        paths.append(str(path))
    sign_in(page, live_server)
    page.click("text=Images")
    page.set_input_files("#id_images", paths)
    page.fill("#id_max_width", "800")
    page.fill("#id_max_height", "800")
    page.select_option("#id_output_format", "WEBP")
    page.click("button:has-text('Generate report')")

    expect(page.locator(".tile")).to_have_count(3)  # a tile per image from the first fragment on
    expect(page.get_by_role("progressbar")).to_be_visible()
    gallery = page.locator(".result .tiles")
    expect(gallery).to_be_visible(timeout=60_000)
    expect(gallery.locator("img")).to_have_count(3)
    for image in gallery.locator("img").all():
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("img => img.naturalWidth") > 0
    expect(page.get_by_text("800×533 WEBP")).to_be_visible()

    with page.expect_download() as download_info:
        page.click("a:has-text('All images (ZIP)')")
    with zipfile.ZipFile(download_info.value.path()) as archive:
        assert sorted(archive.namelist()) == ["001-holiday-1.webp", "002-holiday-2.webp", "003-holiday-3.webp"]
