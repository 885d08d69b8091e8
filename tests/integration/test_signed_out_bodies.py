"""A real uvicorn answers a signed-out person's large request with the way to sign in before it
reads the body: each test sends the headers and a little of the body, never the rest, and the
answer comes anyway (before reports/body_limit.py the server waited for the whole body)."""

import socket
from urllib.parse import urlsplit

import pytest

from tests.support import csv_upload, signed_in_client

pytestmark = pytest.mark.django_db(transaction=True)

FORM = "/reports/csv-profile/"
SIGN_IN = f"/accounts/login/?next={FORM}"


def answer_to_a_partial_post(server, headers: list[str], body_start: bytes, method="POST") -> tuple[str, dict]:
    """Send a request's headers and the start of its body, and read the answer's status line and headers."""
    address = urlsplit(server.url)
    with socket.create_connection((address.hostname, address.port), timeout=20) as connection:
        head = [f"{method} {FORM} HTTP/1.1", f"Host: {address.netloc}", *headers, "", ""]
        connection.sendall("\r\n".join(head).encode() + body_start)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = connection.recv(65536)  # a server still reading the body answers nothing: a timeout
            assert chunk, f"closed without an answer: {received!r}"
            received += chunk
    status, *lines = received.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    return status, {name.lower(): value for name, _, value in (line.partition(": ") for line in lines)}


def test_a_declared_large_body_is_answered_unread(asgi_server):
    status, headers = answer_to_a_partial_post(
        asgi_server,
        ["Content-Type: multipart/form-data; boundary=x", f"Content-Length: {100 * 1024 * 1024}"],
        b"--x\r\n" * 200,
    )
    assert status.startswith("HTTP/1.1 302") and headers["location"] == SIGN_IN


def test_a_chunked_body_is_cut_at_the_limit(asgi_server):
    chunk = b"8000\r\n" + b"a" * 0x8000 + b"\r\n"  # 32 KB
    status, headers = answer_to_a_partial_post(
        asgi_server, ["Content-Type: multipart/form-data; boundary=x", "Transfer-Encoding: chunked"], chunk * 3
    )
    assert status.startswith("HTTP/1.1 302") and headers["location"] == SIGN_IN


def test_a_made_up_session_cookie_counts_as_signed_out(asgi_server):
    status, headers = answer_to_a_partial_post(
        asgi_server, ["Cookie: sessionid=abcdefghijklmnopqrstuvwxyz012345", f"Content-Length: {10**9}"], b"x" * 1000
    )
    assert status.startswith("HTTP/1.1 302") and headers["location"] == SIGN_IN


def test_a_get_with_a_large_body_is_answered_unread_too(asgi_server):
    status, headers = answer_to_a_partial_post(asgi_server, [f"Content-Length: {10**9}"], b"x" * 1000, method="GET")
    assert status.startswith("HTTP/1.1 302") and headers["location"] == SIGN_IN


def test_a_client_that_asks_before_sending_is_not_invited_to(asgi_server):
    status, headers = answer_to_a_partial_post(asgi_server, [f"Content-Length: {10**9}", "Expect: 100-continue"], b"")
    assert status.startswith("HTTP/1.1 302"), status  # not "100 Continue"


def test_the_session_of_a_deactivated_account_counts_as_signed_out(asgi_server, user):
    client = signed_in_client(asgi_server.url, "ada", "correct horse battery")
    user.is_active = False
    user.save()
    cookie = f"Cookie: sessionid={client.cookies['sessionid']}; csrftoken={client.cookies['csrftoken']}"
    status, headers = answer_to_a_partial_post(asgi_server, [cookie, f"Content-Length: {10**9}"], b"x" * 1000)
    assert status.startswith("HTTP/1.1 302") and headers["location"] == SIGN_IN


def test_a_signed_in_persons_large_upload_goes_through(asgi_server, user):
    client = signed_in_client(asgi_server.url, "ada", "correct horse battery")
    upload = csv_upload(b"a,b\n" + b"1,2\n" * 250_000)  # 1 MB
    response = client.post(FORM, files={"file": (upload.name, upload.read(), "text/csv")},
                           headers={"X-CSRFToken": client.cookies["csrftoken"]})  # fmt: skip
    assert response.status_code in (302, 303) and "/jobs/" in response.headers["location"], response.text[:300]
