"""What the benchmarks that need the whole product run against: a private Redis, a fresh
database (SQLite in a temporary folder, or a throwaway PostgreSQL database), a signed-in user,
real worker processes and a real web server (uvicorn as the README's production command and
`make run` run it, or the seed's runserver).

Django is set up in the calling process with the same settings, so a benchmark can read and
write rows directly. One Stack per process: run each benchmark in its own (see __main__.py).
"""

import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import httpx

from project.embedded_redis import EmbeddedRedis, free_port
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]
logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request would drown the figures
USERNAME = "bench"


def wait_until(condition, timeout: float, what: str):
    """tests.support.wait_for, polling often enough not to blur a figure measured by waiting."""
    return wait_for(condition, timeout, what, interval=0.02)


class Stack:
    def __init__(self, postgres_url: str = "", **settings: str):
        """`settings`: more environment for every process (an object store's, say)."""
        self.postgres_url = postgres_url
        self.settings = settings
        self.processes: list[subprocess.Popen] = []
        self.database_name = ""

    def __enter__(self) -> "Stack":
        self.folder = Path(tempfile.mkdtemp(prefix="offload-bench-"))
        self.redis = EmbeddedRedis(self.folder / "redis", persist=False).start()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.benchmarks.settings",
            "DATABASE_URL": self.database_url(),
            "CELERY_BROKER_REDIS_URL": self.redis.url,
            "OFFLOAD_VAR_DIR": str(self.folder / "var"),
            "MEDIA_ROOT": str(self.folder / "var" / "media"),
            # Production settings, served over plain HTTP on loopback (as behind a TLS proxy).
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(40),
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            # The per-person cap on active jobs would be what a throughput run measures.
            "OFFLOAD_MAX_ACTIVE_JOBS": "0",
            "PYTHONUNBUFFERED": "1",
            **self.settings,
        }
        os.environ.update(self.env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        self.user = self.make_user()
        return self

    def database_url(self) -> str:
        if not self.postgres_url:
            return f"sqlite:///{self.folder / 'bench.sqlite3'}"
        import psycopg

        self.database_name = f"offload_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.postgres_url, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {self.database_name}")
        return self.postgres_url.rsplit("/", 1)[0] + "/" + self.database_name

    def make_user(self):
        from django.contrib.auth import get_user_model

        return get_user_model().objects.create_user(USERNAME, password=secrets.token_urlsafe(16))

    def start_worker(self, concurrency: int = 2, empty_reports: bool = True) -> subprocess.Popen:
        from tests.conftest import start_worker  # the suite's own; it reads this process's settings

        name = f"bench{len(self.processes)}"
        worker = start_worker(self.redis.url, self.folder / f"{name}.log", name, concurrency,
                              app="tests.benchmarks.worker_app",
                              OFFLOAD_BENCH_EMPTY_REPORTS="1" if empty_reports else "")  # fmt: skip
        self.processes.append(worker)
        return worker

    def start_web(self, server: str = "uvicorn", workers: int = 3, debug: bool = False) -> str:
        """A web server on a free port; its base URL. uvicorn as the README's production command
        runs it (or, with `debug`, as `make run` does: DEBUG on), or runserver (DEBUG on, as the
        seed's terminal runs it)."""
        port = free_port()
        env = {**self.env, "DEBUG": "true"} if debug or server == "runserver" else self.env
        if server == "uvicorn":
            command = [str(Path(sys.executable).with_name("uvicorn")), "project.asgi:application", "--host",
                       "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-access-log"]  # fmt: skip
        else:
            command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
        log = self.folder / f"web-{port}.log"
        with open(log, "w") as output:
            web = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # fmt: skip
        self.processes.append(web)
        base = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            if web.poll() is not None:
                raise RuntimeError(f"The web server exited:\n{log.read_text()[-3000:]}")
            try:
                return httpx.get(base + "/jobs/", timeout=2).status_code == 302  # to sign in
            except httpx.HTTPError:
                return False

        wait_until(answers, 60, "the web server")
        web.base_url = base
        return base

    def credentials(self) -> tuple[dict, dict]:
        """Cookies and headers of a signed-in browser: a real session, and a CSRF token."""
        from django.test import Client

        client = Client()
        client.force_login(self.user)
        token = secrets.token_hex(16)  # 32 characters: a valid unmasked CSRF secret
        cookies = {"sessionid": client.cookies["sessionid"].value, "csrftoken": token}
        return cookies, {"X-CSRFToken": token, "HX-Request": "true"}

    def __exit__(self, *exc_info) -> None:
        from tests.conftest import stop_process

        for process in reversed(self.processes):
            stop_process(process)
        from django.db import connections

        connections.close_all()
        self.redis.stop()
        if self.database_name:
            import psycopg

            with psycopg.connect(self.postgres_url, autocommit=True) as connection:
                connection.execute(f"DROP DATABASE IF EXISTS {self.database_name} WITH (FORCE)")
        shutil.rmtree(self.folder, ignore_errors=True)
