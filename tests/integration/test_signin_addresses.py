"""Sign-in limits through a real uvicorn started as the README says: they key on the address
uvicorn reports, so with no trusted proxy in front a forged `X-Forwarded-For` moves nothing."""

import httpx
import pytest

from tests.conftest import start_asgi_server, stop_process
from tests.support import post_sign_in

pytestmark = pytest.mark.django_db(transaction=True)

# The README's two ways to run uvicorn in production, and its default, which trusts loopback.
NO_PROXY = ("--no-proxy-headers",)
PROXY_ELSEWHERE = ("--forwarded-allow-ips", "10.0.0.7")


@pytest.fixture
def server(request, broker, tmp_path):
    process = start_asgi_server(broker.url, tmp_path / "uvicorn.log", options=request.param,
                                OFFLOAD_SIGNIN_FAILURES_PER_ADDRESS=8)  # fmt: skip
    yield process
    stop_process(process)


def sign_in(server, username: str, password: str, forged: str) -> httpx.Response:
    """One attempt by a fresh client that claims to be `forged` in X-Forwarded-For."""
    with httpx.Client(base_url=server.url, timeout=30, headers={"X-Forwarded-For": forged}) as client:
        return post_sign_in(client, username, password)


def forged(n: int) -> str:
    return f"198.51.100.{n}"


@pytest.mark.parametrize("server", [NO_PROXY, PROXY_ELSEWHERE], indirect=True, ids=["no-proxy", "proxy-elsewhere"])
def test_a_forged_forwarded_address_does_not_lift_a_lockout(server, user):
    for n in range(4):
        assert sign_in(server, "ada", "wrong", forged(n)).status_code == 200  # the form again, with its error
    assert sign_in(server, "ada", "wrong", forged(4)).status_code == 429  # the fifth locks
    locked = sign_in(server, "ada", "correct horse battery", forged(99))
    assert locked.status_code == 429 and "Too many attempts" in locked.text


@pytest.mark.parametrize("server", [NO_PROXY, PROXY_ELSEWHERE], indirect=True, ids=["no-proxy", "proxy-elsewhere"])
def test_a_forged_forwarded_address_does_not_dodge_the_limit_per_address(server, user, other_user):
    for n in range(8):  # sprayed over names, each time claiming another address
        assert sign_in(server, f"someone{n}", "password1", forged(n)).status_code == 200
    paused = sign_in(server, "grace", "another long password", forged(50))
    assert paused.status_code == 429 and "Too many attempts" in paused.text


@pytest.mark.parametrize("server", [()], indirect=True, ids=["uvicorn-default"])
def test_uvicorns_default_believes_loopback_which_is_why_the_readme_says_to_set_it(server, user):
    for n in range(5):
        sign_in(server, "ada", "wrong", forged(n))
    assert sign_in(server, "ada", "correct horse battery", forged(99)).status_code == 302  # the lockout was dodged
