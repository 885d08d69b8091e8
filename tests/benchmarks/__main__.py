"""`make bench`: every benchmark against its baseline, in the same run on this machine; prints
the table and writes it to docs/benchmarks.md. `--smoke` runs each at tiny sizes (what
`make test` does, so they cannot rot) and writes nothing.

    python -m tests.benchmarks [--smoke] [--only NAME ...] [--postgres URL]

PostgreSQL figures need a server: `--postgres` (default $BENCH_POSTGRES_URL, else
postgres://postgres@127.0.0.1:5432/test); a throwaway database is created there and dropped.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from .figures import Figure, markdown, text_table, write_markdown

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "docs" / "benchmarks.md"
# In the order of the issues' lists; each runs in a process of its own (Django is set up once per process).
BENCHMARKS = ["pipeline", "web", "csv_profile", "thumbnails", "pdf", "push", "scale_out", "operations"]
# Run a second time on PostgreSQL when one answers (its figures are the ones with goals there).
ALSO_ON_POSTGRES = {"pipeline", "operations"}


def postgres_answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 2).close()
        return True
    except OSError:
        return False


def run_one(module: str, smoke: bool, postgres: str = "") -> list[Figure]:
    command = [sys.executable, "-m", "tests.benchmarks.one", module, *(["--smoke"] if smoke else [])]
    command += ["--postgres", postgres] if postgres else []
    print(
        f"--- {module}{' on PostgreSQL' if postgres else ''}{' (smoke)' if smoke else ''}", file=sys.stderr, flush=True
    )
    output = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if output.returncode:
        raise RuntimeError(f"{module} failed:\n{output.stderr[-4000:]}")
    return [Figure(**fields) for fields in json.loads(output.stdout.strip().splitlines()[-1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--only", nargs="*", default=BENCHMARKS, choices=BENCHMARKS)
    parser.add_argument(
        "--postgres", default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
    )
    arguments = parser.parse_args()
    figures = []
    failed = []
    for module in arguments.only:
        try:
            figures += run_one(module, arguments.smoke)
        except RuntimeError as error:  # the others still run and print
            print(error, file=sys.stderr)
            failed.append(module)
            continue
        if module in ALSO_ON_POSTGRES and not arguments.smoke:
            if postgres_answers(arguments.postgres):
                figures += run_one(module, arguments.smoke, arguments.postgres)
            else:
                print(f"--- no PostgreSQL at {arguments.postgres}: {module} is not measured there", file=sys.stderr)
    figures.sort(key=lambda figure: figure.benchmark)
    print(text_table(figures))
    if failed:
        sys.exit(f"\nFailed: {', '.join(failed)}")
    if not arguments.smoke and arguments.only == BENCHMARKS:
        write_markdown(REPORT, markdown(figures, "make bench", time.strftime("%Y-%m-%d")))
        print(f"\nWritten to {REPORT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
