"""Time and peak memory of one function, in a fresh process so nothing else counts.

    python -m tests.benchmarks.isolated module:function '<json args>' ['module:warm_up']

Peak memory is the rise of the peak resident set (VmHWM, reset after the warm-up) over the
resident set before the call (Linux /proc): imports and codecs loaded by the warm-up do not count.
"""

import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import project  # noqa: F401  (first, as in a worker: the project's process settings, see project/__init__.py)

ROOT = Path(__file__).resolve().parents[2]


def memory_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def resolve(name: str):
    module, _, attribute = name.partition(":")
    return getattr(importlib.import_module(module), attribute)


def measure(function_name: str, args: list, warm_up: str = "") -> dict:
    if warm_up:
        resolve(warm_up)()
    function = resolve(function_name)
    # getrusage's max RSS survives exec (it would report the parent's peak); VmHWM can be reset.
    Path("/proc/self/clear_refs").write_text("5")
    before = memory_kib("VmRSS")
    started = time.perf_counter()
    function(*args)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mib": (memory_kib("VmHWM") - before) / 1024}


def in_fresh_process(function_name: str, *args, warm_up: str = "", env: dict | None = None) -> dict:
    """`env`: more environment for that process (settings read when a library loads)."""
    output = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.isolated", function_name, json.dumps(args), warm_up],
        capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings", **(env or {})},
    )  # fmt: skip
    if output.returncode:
        raise RuntimeError(f"{function_name} failed:\n{output.stderr[-3000:]}")
    return json.loads(output.stdout.splitlines()[-1])


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "")))
