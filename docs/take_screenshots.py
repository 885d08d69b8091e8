"""Regenerate the README's screenshots from a running `make run` (python docs/take_screenshots.py).

Signs in with the demo account in var/demo-account.txt, runs both reports and saves desktop and
phone-width PNGs under docs/.
"""

import csv
import random
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def credentials() -> tuple[str, str]:
    lines = (ROOT / "var" / "demo-account.txt").read_text().splitlines()
    return lines[0].split(": ", 1)[1], lines[1].split(": ", 1)[1]


def sample_csv() -> str:
    rng = random.Random(7)
    path = Path(tempfile.gettempdir()) / "offload-sample-orders.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "placed_on", "city", "amount", "items", "coupon"])
        for number in range(1, 20001):
            writer.writerow([
                number, f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                rng.choice(["Oslo", "Lima", "Pune", "Accra", "Quito"]), round(rng.lognormvariate(3.5, 0.6), 2),
                rng.randint(1, 9), rng.choice(["", "", "", "SPRING10", "VIP"]),
            ])  # fmt: skip
    return str(path)


def sample_photos() -> list[str]:
    """Four generated photos, one text file named .jpg and one truncated JPEG."""
    from PIL import Image

    folder = Path(tempfile.gettempdir()) / "offload-sample-photos"
    folder.mkdir(exist_ok=True)
    paths = []
    for number, size in enumerate([(4000, 3000), (3000, 4000), (2400, 1600), (1200, 1200)], start=1):
        gradient = Image.linear_gradient("L").resize(size)
        photo = Image.merge(
            "RGB", (gradient, gradient.rotate(90).resize(size), gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
        )
        path = folder / f"photo-{number}.jpg"
        photo.save(path, quality=92)
        paths.append(str(path))
    (folder / "notes.jpg").write_bytes(b"just some text\n")
    whole = Path(paths[0]).read_bytes()
    (folder / "cut.jpg").write_bytes(whole[: len(whole) // 3])
    return [*paths, str(folder / "notes.jpg"), str(folder / "cut.jpg")]


def take_schedule_shots(page, name: str) -> None:
    page.goto(f"{BASE}/schedules/new/")
    page.fill("#id_name", f"Monday regions ({name})")
    page.check("input[name=frequency][value=weekly]")
    page.fill("#id_time_of_day", "07:30")
    page.select_option("#id_time_zone", "Europe/Paris")
    page.screenshot(path=ROOT / f"docs/schedule-form-{name}.png", full_page=True)
    page.click("text=Create schedule")
    page.wait_for_selector(".schedule")
    page.screenshot(path=ROOT / f"docs/schedules-{name}.png", full_page=True)


def main() -> None:
    username, password = credentials()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for name, viewport in (("desktop", {"width": 1280, "height": 900}), ("phone", {"width": 390, "height": 844})):
            page = browser.new_page(viewport=viewport, device_scale_factor=1)
            page.goto(f"{BASE}/accounts/login/")
            page.screenshot(path=ROOT / f"docs/login-{name}.png")
            page.fill("#id_username", username)
            page.fill("#id_password", password)
            page.click("button[type=submit]")
            page.screenshot(path=ROOT / f"docs/home-{name}.png", full_page=True)
            page.goto(f"{BASE}/reports/sales-summary/")
            page.select_option("#id_group_by", "product")
            page.click("text=Generate report")
            page.wait_for_selector("[role=progressbar]")
            page.screenshot(path=ROOT / f"docs/running-{name}.png", full_page=True)
            page.wait_for_selector(".result table", timeout=60_000)
            page.wait_for_timeout(300)
            page.screenshot(path=ROOT / f"docs/sales-summary-{name}.png", full_page=True)
            page.goto(f"{BASE}/reports/csv-profile/")
            page.set_input_files("#id_file", sample_csv())
            page.click("text=Generate report")
            page.wait_for_selector(".columns-grid", timeout=60_000)
            page.screenshot(path=ROOT / f"docs/csv-profile-{name}.png", full_page=True)
            page.goto(f"{BASE}/reports/images/")
            page.set_input_files("#id_images", sample_photos())
            page.fill("#id_max_width", "1600")
            page.fill("#id_max_height", "1600")
            page.select_option("#id_output_format", "WEBP")
            page.fill("#id_watermark", "© Offload")
            page.click("text=Generate report")
            page.wait_for_selector(".result .tiles", timeout=60_000)
            page.wait_for_timeout(300)
            page.screenshot(path=ROOT / f"docs/images-{name}.png", full_page=True)
            page.goto(f"{BASE}/jobs/")
            page.screenshot(path=ROOT / f"docs/my-jobs-{name}.png", full_page=True)
            take_schedule_shots(page, name)
            # A job that ends while the person is on another page: the notice.
            page.goto(f"{BASE}/reports/sales-summary/")
            # Leave before the form's page hears of the end (a page that saw the job end shows no
            # notice for it): its stream is kept shut, and the first poll would come after a second.
            page.route("**/events/", lambda route: route.abort())
            with page.expect_response(lambda response: response.request.method == "POST"):
                page.click("text=Generate report")
            page.goto(f"{BASE}/")
            page.unroute("**/events/")
            page.wait_for_selector(".notice", timeout=60_000)
            page.wait_for_timeout(400)
            page.screenshot(path=ROOT / f"docs/notice-{name}.png")
            page.goto(f"{BASE}/operations/")
            page.wait_for_selector("text=Workers online")
            page.wait_for_selector("#performance table")
            page.wait_for_timeout(3500)  # the workers answer within a second or three
            page.screenshot(path=ROOT / f"docs/operations-{name}.png", full_page=True)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
