"""ydata-profiling's side of the CSV profile benchmark, run by the Python of its own virtual
environment (`make .venv-ydata`: it needs pandas < 3 and NumPy < 2.4, which Offload's do not
fit). Standard library plus what that environment holds; prints one line of JSON.

    .venv-ydata/bin/python tests/benchmarks/ydata_side.py PATH minimal|default|pandas [EXTRA_MIB]

With EXTRA_MIB, the process runs under RLIMIT_AS: its address space after the imports plus
that many MiB (address space bounds resident memory from above): a run that needs more stops
with MemoryError, and the line says where, instead of crashing the machine.
"""

import json
import resource
import sys
import time
from pathlib import Path


def memory_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def main(path: str, mode: str, extra_mib: int = 0) -> dict:
    import pandas as pd  # imported before the clock starts, as in the other contenders

    if mode != "pandas":
        from ydata_profiling import ProfileReport

        # Warmed up on the file's first rows, as the other contenders are: numba compiles here.
        ProfileReport(pd.read_csv(path, nrows=1000), minimal=mode == "minimal", progress_bar=False).get_description()
    if extra_mib:
        limit = memory_kib("VmSize") * 1024 + extra_mib * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    Path("/proc/self/clear_refs").write_text("5")
    before = memory_kib("VmRSS")
    started = time.perf_counter()
    stage = "reading the CSV with pandas"
    try:
        frame = pd.read_csv(path)
        stage = "profiling"
        if mode == "pandas":
            frame.describe(include="all")
        else:
            ProfileReport(frame, minimal=mode == "minimal", progress_bar=False).get_description()
        outcome = "finished"
    except MemoryError:
        outcome = f"MemoryError while {stage}"
    return {
        "seconds": time.perf_counter() - started,
        "peak_mib": (memory_kib("VmHWM") - before) / 1024,
        "outcome": outcome,
        "rows_read": len(frame) if stage == "profiling" else None,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0)))
