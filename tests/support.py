"""Small builders and waiting helpers shared by the tests."""

import csv
import io
import re
import time
from collections.abc import Callable, Iterator

from django.core.files.uploadedfile import SimpleUploadedFile

HTMX = {"HTTP_HX_REQUEST": "true"}
# A sales summary's parameters, for tests that need a job of some kind and do not care which.
SALES_PARAMS = {"date_from": "2025-01-01", "date_to": "2025-03-31", "group_by": "region", "metric": "orders"}


def wait_for(
    condition: Callable[[], object], timeout: float = 60, message: str = "condition", interval: float = 0.1
) -> object:
    """Poll every `interval` seconds until condition() is truthy; fail with a message after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def csv_bytes(header: list[str], rows: list[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def csv_upload(content: bytes, name: str = "data.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def people_csv(rows: int = 50) -> bytes:
    return csv_bytes(
        ["name", "age", "joined", "score", "team"],
        [
            [
                f"person {i}",
                20 + i % 40,
                f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "" if i % 10 == 0 else i * 1.5,
                ["red", "blue"][i % 2],
            ]
            for i in range(rows)
        ],
    )


def jpeg_bytes(width: int = 640, height: int = 480) -> bytes:
    """A real photo-like JPEG (a gradient) made in memory."""
    from PIL import Image

    gradient = Image.linear_gradient("L").resize((width, height))
    image = Image.merge("RGB", (gradient, gradient.rotate(90).resize((width, height)), gradient))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def image_upload(content: bytes, name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="image/jpeg")


def sign_in(page, live_server, username="ada", password="correct horse battery") -> None:
    """Sign in through the real form, as a person would (browser tests)."""
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button:has-text('Sign in')")
    expect(page.get_by_role("heading", name="Reports")).to_be_visible()


def settled(locator) -> None:
    """Wait until htmx has wired up the swapped-in element (browser tests): it does so when the
    swap settles, and drops the `htmx-added` class then; a click or change before that goes
    unheard (a fresh CI run once caught a filter change made in that moment)."""
    from playwright.sync_api import expect

    expect(locator).not_to_have_class(re.compile(r"\bhtmx-added\b"))


def server_sent_events(response) -> Iterator[tuple[str, str]]:
    """(event, data) pairs from a streaming httpx response, as an EventSource would see them."""
    event, data = "message", []
    for line in response.iter_lines():
        if line == "":
            if data:
                yield event, "\n".join(data)
            elif event != "message":
                yield event, ""
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[6:] if line.startswith("data: ") else line[5:])


def signed_in_cookies(user) -> dict:
    """A real session for `user` in the shared database, as a browser that signed in holds it."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return {"sessionid": client.cookies["sessionid"].value}


def signed_in_client(base_url: str, username: str, password: str):
    """An httpx client signed in through the real sign-in form of a server process; post with
    `csrf_headers(client)`."""
    import httpx

    client = httpx.Client(base_url=base_url, timeout=30, follow_redirects=False)
    response = post_sign_in(client, username, password)
    assert response.status_code == 302, response.text[:500]
    return client


def post_sign_in(client, username: str, password: str):
    """One try at the real sign-in form with an httpx client: the form's token, then the post."""
    page = client.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return client.post("/accounts/login/", data={"username": username, "password": password,
                                                 "csrfmiddlewaretoken": token})  # fmt: skip


def csrf_headers(client) -> dict:
    """What htmx sends with a POST: the CSRF token as a header, and that it is htmx."""
    return {"HX-Request": "true", "X-CSRFToken": client.cookies["csrftoken"]}
