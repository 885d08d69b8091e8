"""`make run`: migrate, make a demo account, then run web, worker and beat together.

When CELERY_BROKER_REDIS_URL is not set (in the environment or .env) it starts a private
Redis under var/redis and stops it after the others. Ctrl-C stops everything.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import nullcontext
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def development_defaults(environment, env_file: Path = BASE_DIR / ".env") -> None:
    """`make run` is for development: DEBUG on unless the environment or .env says otherwise
    (the project's own default is off, for deployments; settings read .env themselves)."""
    if "DEBUG" in environment:
        return
    lines = env_file.read_text().splitlines() if env_file.exists() else []
    if not any(line.strip().removeprefix("export ").startswith("DEBUG=") for line in lines):
        environment["DEBUG"] = "True"


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    development_defaults(os.environ)
    from django.conf import settings  # reads .env into os.environ, as the web and workers will

    settings.VAR_DIR.mkdir(exist_ok=True)
    env = dict(os.environ)
    # The Procfile's `python` and `celery` are this interpreter's (the project's .venv).
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PYTHONUNBUFFERED", "1")
    port = env.get("PORT", "8000")
    # Links in emails (sent by the worker, which has no request to read the host from) follow PORT.
    env.setdefault("OFFLOAD_SITE_URL", f"http://127.0.0.1:{port}")
    manage = [sys.executable, str(BASE_DIR / "manage.py")]

    subprocess.run([*manage, "migrate", "--noinput", "-v", "1"], check=True, env=env)
    account = subprocess.run([*manage, "ensure_demo_user"], check=True, env=env, stdout=subprocess.PIPE, text=True)
    print(account.stdout, end="", flush=True)

    from project.embedded_redis import EmbeddedRedis

    embedded = None if env.get("CELERY_BROKER_REDIS_URL") else EmbeddedRedis(settings.VAR_DIR / "redis")
    with embedded or nullcontext():
        if embedded:
            env["CELERY_BROKER_REDIS_URL"] = embedded.url
            print(
                f"Started a private Redis at {embedded.url} (data in var/redis; set CELERY_BROKER_REDIS_URL to use your own)."
            )
        print(
            f"\n  Offload is starting: open http://127.0.0.1:{port}/  (Ctrl-C stops web, worker and beat)\n", flush=True
        )
        # honcho gets a session of its own, so a stop signal reaches it exactly once: from us,
        # whether it was Ctrl-C in the terminal or a kill sent to this process.
        honcho = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "-f", str(BASE_DIR / "Procfile"), "-p", port],
            cwd=BASE_DIR,
            env=env,
            start_new_session=True,
        )

        stopping = threading.Event()
        # Celery's banners scroll the first lines away within seconds: say again where to go, and
        # how to sign in, once the web server answers.
        sign_in = next((line for line in account.stdout.splitlines() if line.startswith("Sign in as")), "")
        threading.Thread(target=say_when_ready, args=(int(port), sign_in, stopping), daemon=True).start()

        def stop(signum, frame):
            stopping.set()
            if honcho.poll() is None:
                honcho.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        code = honcho.wait()
        # Stopped as asked (Ctrl-C): a clean end, not honcho's 143 for make to report as an error.
        return 0 if stopping.is_set() else code


def say_when_ready(port: int, sign_in: str, stopping: threading.Event, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not stopping.is_set() and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            time.sleep(0.5)
            continue
        time.sleep(1.5)  # past the worker's and beat's start-up banners
        lines = [f"Offload is ready: open http://127.0.0.1:{port}/", *([sign_in] if sign_in else [])]
        print("\n" + "\n".join(f"  >>> {line}" for line in lines) + "\n", flush=True)
        return


if __name__ == "__main__":
    sys.exit(main())
