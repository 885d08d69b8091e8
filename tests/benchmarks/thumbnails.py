"""Thumbnails of 24-megapixel JPEGs: our path (imaging.process) against naive Image.open().resize().

Run: `make bench-thumbnails` (or `python -m tests.benchmarks.thumbnails [photos] [width height]`).
Each method runs in a fresh process and its peak memory is the rise of the peak resident set
(VmHWM, reset before the run) over the resident set before the run (Linux /proc). Photos are generated deterministically; nothing is downloaded.
"""

import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

BOX = 400


def make_photos(directory: Path, count: int, size: tuple[int, int]) -> list[Path]:
    """Photo-like JPEGs: smooth gradients plus fine noise, so they compress like real photos."""
    paths = []
    for number in range(count):
        gradient = Image.linear_gradient("L").resize(size)
        noise = Image.effect_noise(size, 40 + number)
        image = Image.merge("RGB", (gradient, noise, gradient.transpose(Image.Transpose.ROTATE_180)))
        path = directory / f"photo-{number}.jpg"
        image.save(path, quality=90)
        paths.append(path)
    return paths


def naive(path: Path) -> bytes:
    with Image.open(path) as image:
        ratio = BOX / max(image.size)
        small = image.resize((round(image.width * ratio), round(image.height * ratio)))
        buffer = io.BytesIO()
        small.save(buffer, format="JPEG", quality=85)
        return buffer.getvalue()


def ours(path: Path) -> bytes:
    from reports import imaging

    options = imaging.ImageOptions(max_width=BOX, max_height=BOX, output_format="JPEG", quality=85)
    return imaging.process(path, options, max_pixels=200_000_000).output.content


def measure(method: str, paths: list[str]) -> dict:
    """In this process: run one method over the photos; report seconds and peak RSS rise."""
    function = {"naive": naive, "ours": ours}[method]
    # Warm up imports and codecs on a small photo, so neither the time nor the peak counts them.
    with tempfile.TemporaryDirectory() as folder:
        function(make_photos(Path(folder), 1, (320, 240))[0])
    # getrusage's max RSS survives exec (it would report the parent's peak); VmHWM can be reset.
    Path("/proc/self/clear_refs").write_text("5")
    baseline = memory_kib("VmRSS")
    started = time.perf_counter()
    for path in paths:
        function(Path(path))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mib": (memory_kib("VmHWM") - baseline) / 1024}


def memory_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def run(count: int = 5, size: tuple[int, int] = (6000, 4000)) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        paths = [str(p) for p in make_photos(Path(folder), count, size)]
        results = {}  # each method in a fresh process
        for method in ("naive", "ours"):
            output = subprocess.run(
                [sys.executable, "-m", "tests.benchmarks.thumbnails", "--measure", method, *paths],
                capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2],
                env={**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings"},
            )  # fmt: skip
            results[method] = json.loads(output.stdout)
    return results


def report(results: dict, count: int, size: tuple[int, int]) -> str:
    naive_result, ours_result = results["naive"], results["ours"]
    lines = [
        f"Thumbnails ({BOX} px box) of {count} generated {size[0]}×{size[1]} JPEGs, {os.cpu_count()} cores",
        f"{'figure':<22}{'ours':>10}{'naive':>10}{'ratio':>10}  goal",
        f"{'time per photo (ms)':<22}{1000 * ours_result['seconds'] / count:>10.0f}{1000 * naive_result['seconds'] / count:>10.0f}"
        f"{naive_result['seconds'] / ours_result['seconds']:>9.1f}×  ≥ 3× faster",
        f"{'peak memory (MiB)':<22}{ours_result['peak_mib']:>10.0f}{naive_result['peak_mib']:>10.0f}"
        f"{ours_result['peak_mib'] / max(naive_result['peak_mib'], 0.1):>9.2f}×  ≤ 0.5×",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        print(json.dumps(measure(sys.argv[2], sys.argv[3:])))
    else:
        count = int(sys.argv[1]) if len(sys.argv) > 1 else 5
        size = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (6000, 4000)
        print(report(run(count, size), count, size))
