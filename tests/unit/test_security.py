"""Production security settings, the Content-Security-Policy, password-guessing lockout, no
secrets in the repository."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

BASE_DIR = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "False",
    "SECRET_KEY": "a-test-only-key-that-is-long-and-random-enough-0123456789abcdef",
    "ALLOWED_HOSTS": "offload.example.com",
    "PATH": "/usr/bin:/bin",
}


def run_django(code: str, **environment) -> subprocess.CompletedProcess:
    """Python with Django set up from the environment given (settings are read at start)."""
    setup = "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'project.settings'); django.setup()\n"
    return subprocess.run(
        [sys.executable, "-c", setup + code], cwd=BASE_DIR, env={**PRODUCTION, **environment},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_deploy_check_is_clean_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR, env=PRODUCTION, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_over_https_in_production_cookies_are_secure_and_hsts_is_sent(tmp_path):
    result = run_django(
        "from django.core.management import call_command\n"
        "call_command('collectstatic', interactive=False, verbosity=0)\n"
        "from django.test import Client\n"
        "client = Client(HTTP_HOST='offload.example.com')\n"
        "page = client.get('/accounts/login/', secure=True)\n"
        "print(page.status_code, page.headers.get('Strict-Transport-Security'))\n"
        "print(page.cookies['csrftoken']['secure'], page.cookies['csrftoken']['samesite'])\n"
        "print(client.get('/accounts/login/').status_code, client.get('/accounts/login/').headers['Location'])\n",
        DATABASE_URL="sqlite:///:memory:",
        STATIC_ROOT=str(tmp_path / "static"),
    )
    assert result.returncode == 0, result.stderr
    first, cookie, plain = result.stdout.splitlines()
    assert first == "200 max-age=31536000; includeSubDomains"
    assert cookie == "True Lax"
    assert plain == "301 https://offload.example.com/accounts/login/"  # plain HTTP goes to HTTPS


def test_every_page_sends_a_policy_that_allows_no_inline_script(owner_client):
    for url in (reverse("home"), reverse("report_form", args=["sales-summary"]), reverse("job_list"),
                reverse("schedule_list"), reverse("login")):  # fmt: skip
        response = owner_client.get(url)
        policy = response.headers["Content-Security-Policy"]
        script_src = re.search(r"script-src ([^;]*)", policy).group(1)
        assert script_src == "'self'", policy
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        # And the page has none: every <script> is a file of ours.
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.content.decode()), url


def test_five_wrong_passwords_lock_that_account_out_here_and_say_so(client, user):
    for _ in range(5):
        response = client.post(reverse("login"), {"username": "ada", "password": "wrong guess"})
        assert response.status_code in (200, 429)
    locked = client.post(reverse("login"), {"username": "ada", "password": "correct horse battery"})
    assert locked.status_code == 429 and "Too many attempts" in locked.content.decode()
    assert "paused for 15 minutes." in locked.content.decode() and "PT15M" not in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_one_address_spraying_passwords_over_many_names_is_paused(client, user, settings):
    settings.OFFLOAD_SIGNIN_FAILURES_PER_ADDRESS = 8
    for number in range(8):  # two tries at each of four names: no one name reaches axes' limit
        response = client.post(reverse("login"), {"username": f"name{number // 2}", "password": "Summer2026!"})
        assert response.status_code == 200, number
    paused = client.post(reverse("login"), {"username": "ada", "password": "correct horse battery"})
    assert paused.status_code == 429 and "from your address" in paused.content.decode()
    assert "paused for 15 minutes" in paused.content.decode() and "_auth_user_id" not in client.session
    admin = client.post("/admin/login/", {"username": "ada", "password": "correct horse battery"})
    assert admin.status_code == 429  # the admin's sign-in page too
    elsewhere = Client(REMOTE_ADDR="203.0.113.9")  # another address signs in as before
    assert elsewhere.post(reverse("login"), {"username": "ada", "password": "correct horse battery"}).status_code == 302


def big_upload() -> dict:
    return {"file": SimpleUploadedFile("big.csv", b"a,b\n" + b"1,2\n" * 50_000)}  # 200 KB: over 64 KB


def test_a_signed_out_upload_is_sent_to_sign_in_before_its_body_is_read(db):
    csrf_checked = Client(enforce_csrf_checks=True)  # the check that would read the body for its token
    response = csrf_checked.post("/reports/csv-profile/", big_upload())
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/reports/csv-profile/"
    assert not response.wsgi_request._read_started
    fragment = csrf_checked.post("/reports/csv-profile/", big_upload(), headers={"HX-Request": "true",
                                 "HX-Current-URL": "http://testserver/reports/csv-profile/"})  # fmt: skip
    assert fragment.status_code == 200 and fragment["HX-Redirect"] == "/accounts/login/?next=/reports/csv-profile/"
    small = csrf_checked.post(reverse("login"), {"username": "ada", "password": "wrong"})
    assert small.status_code == 403  # a small body goes on to the checks as before (here: no CSRF token)


def test_a_signed_in_persons_large_upload_is_read(owner_client):
    response = owner_client.post("/reports/csv-profile/", big_upload())
    assert response.status_code in (302, 303) and "/jobs/" in response["Location"]


def test_there_is_no_password_reset_by_email(client):
    for path in ("/accounts/password_reset/", "/accounts/password_reset/done/", "/accounts/reset/x/y/"):
        assert client.get(path).status_code == 404, path


def test_a_signed_in_persons_pages_are_kept_by_no_shared_cache(owner_client):
    for url in (reverse("home"), reverse("job_list"), reverse("schedule_list")):
        policy = owner_client.get(url)["Cache-Control"]
        assert "private" in policy and "no-cache" in policy, url


def test_other_accounts_are_not_locked_by_someone_elses_guessing(client, user, other_user):
    for _ in range(5):
        client.post(reverse("login"), {"username": "ada", "password": "wrong guess"})
    response = client.post(reverse("login"), {"username": "grace", "password": "another long password"})
    assert response.status_code == 302


def test_a_right_password_before_the_limit_resets_the_count(client, user):
    for _ in range(4):
        client.post(reverse("login"), {"username": "ada", "password": "wrong guess"})
    assert client.post(reverse("login"), {"username": "ada", "password": "correct horse battery"}).status_code == 302
    client.logout()
    for _ in range(4):
        client.post(reverse("login"), {"username": "ada", "password": "wrong guess"})
    assert client.post(reverse("login"), {"username": "ada", "password": "correct horse battery"}).status_code == 302


SECRET_PATTERNS = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"""SECRET_KEY\s*=\s*["']?(?!django-insecure-offload-development-only)[A-Za-z0-9_\-!@#$%^&*]{30,}"""),
    re.compile(r"(?i)(aws_secret_access_key|api[_-]?key|token)\s*[=:]\s*[\"'][A-Za-z0-9/+_\-]{20,}[\"']"),
    re.compile(r"redis://[^@\s/]*:[^@\s/]+@|postgres(ql)?://[^:\s/]+:(?!secret@|pass@|password@)[^@\s/]+@"),
]


@pytest.mark.parametrize("pattern", SECRET_PATTERNS, ids=["private key", "secret key", "api key", "url password"])
def test_no_secret_is_committed(pattern):
    tracked = subprocess.run(["git", "ls-files"], cwd=BASE_DIR, capture_output=True, text=True, check=True)
    offenders = []
    for name in tracked.stdout.splitlines():
        path = BASE_DIR / name
        if path.suffix in {".png", ".jpg", ".ico"} or not path.is_file() or name == "tests/unit/test_security.py":
            continue
        if pattern.search(path.read_text(errors="ignore")):
            offenders.append(name)
    assert not offenders, offenders
