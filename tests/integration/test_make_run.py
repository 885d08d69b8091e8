"""`make run` on embedded defaults: web, worker, beat and a private Redis come up, and stop together."""

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest

from project.embedded_redis import free_port
from tests.support import wait_for

pytestmark = pytest.mark.integration
BASE_DIR = Path(__file__).resolve().parents[2]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def start_make_run(tmp_path) -> tuple[subprocess.Popen, Path, int]:
    """The launcher `make run` starts, on a fresh var/ with no broker or database configured."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "CELERY_BROKER_REDIS_URL")}
    env.update(PORT=str(port), OFFLOAD_VAR_DIR=str(tmp_path / "var"), DEBUG="True", PYTHONUNBUFFERED="1")
    log_path = tmp_path / "run.log"
    with open(log_path, "w") as log:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "project.launcher"], cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal gives a foreground job
        )  # fmt: skip
    return launcher, log_path, port


def wait_until_up(launcher, log_path, check, what):
    def up():
        if launcher.poll() is not None:
            raise AssertionError(f"make run exited early:\n{log_path.read_text()}")
        return check()

    wait_for(up, 120, what)


def process_tree(launcher) -> list[int]:
    return [launcher.pid, *(child.pid for child in psutil.Process(launcher.pid).children(recursive=True))]


def wait_until_all_gone(family: list[int]) -> None:
    def all_gone():
        return not [pid for pid in family if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]

    wait_for(all_gone, 30, "every process to stop")


def test_make_run_starts_everything_and_ctrl_c_leaves_no_process_behind(tmp_path):
    launcher, log_path, port = start_make_run(tmp_path)
    family = [launcher.pid]
    try:
        wait_until_up(launcher, log_path, lambda: answers(f"http://127.0.0.1:{port}/accounts/login/"), "the web server")
        wait_until_up(launcher, log_path, lambda: "ready." in log_path.read_text(), "the worker")
        wait_until_up(launcher, log_path, lambda: "beat: Starting" in log_path.read_text(), "beat")
        output = log_path.read_text()
        assert "Started a private Redis" in output
        assert "Sign in as demo / " in output
        assert (tmp_path / "var" / "offload.sqlite3").exists()
        assert (tmp_path / "var" / "demo-account.txt").stat().st_mode & 0o077 == 0
        family = process_tree(launcher)
        names = " ".join(" ".join(psutil.Process(pid).cmdline()) for pid in family)
        assert "uvicorn" in names and "worker" in names and "beat" in names and "redis-server" in names
        # Said again once the web answers, below Celery's banners; emailed links follow PORT.
        wait_until_up(launcher, log_path, lambda: ">>> Sign in as demo / " in log_path.read_text(), "the ready line")
        assert f">>> Offload is ready: open http://127.0.0.1:{port}/" in log_path.read_text()
        worker = next(pid for pid in family if "worker" in " ".join(psutil.Process(pid).cmdline()))
        assert psutil.Process(worker).environ()["OFFLOAD_SITE_URL"] == f"http://127.0.0.1:{port}"
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        code = launcher.wait(timeout=60)
    wait_until_all_gone(family)
    assert code == 0  # a clean stop: make reports no error


def test_a_stop_signal_sent_to_make_run_alone_stops_everything(tmp_path):
    """`kill <pid>` of the launcher alone, as a process manager does, must not orphan its children."""
    launcher, log_path, _ = start_make_run(tmp_path)
    family = [launcher.pid]
    try:
        wait_until_up(launcher, log_path, lambda: "ready." in log_path.read_text(), "the worker")
        family = process_tree(launcher)
    finally:
        if launcher.poll() is None:
            launcher.send_signal(signal.SIGTERM)
        launcher.wait(timeout=60)
    wait_until_all_gone(family)
