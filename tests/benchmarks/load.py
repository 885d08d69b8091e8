"""A small load generator: client threads in two processes (so the client's own Python does not
cap the figure), each making plain HTTP/1.1 requests with http.client."""

import http.client
import re
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from urllib.parse import urlsplit

PROCESSES = 2


def request(base_url: str, path: str, headers: dict) -> tuple[int, int, dict]:
    """Status, bytes on the wire (status line, headers and body) and the response headers, their
    names in lower case (uvicorn sends them so, gunicorn capitalised), with the body as "body"."""
    connection = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        head = f"HTTP/1.1 {response.status} {response.reason}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in response.getheaders()
        )
        return (
            response.status,
            len(head) + 2 + len(body),
            {**{k.lower(): v for k, v in response.getheaders()}, "body": body.decode()},
        )
    finally:
        connection.close()


def cookie_header(cookies: dict) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def _flat_out(base_url: str, paths: list[str], headers: dict, seconds: float, threads: int) -> list[int]:
    deadline = time.monotonic() + seconds

    def loop(number: int) -> int:
        done = 0
        while time.monotonic() < deadline:
            status, _, _ = request(base_url, paths[number % len(paths)], headers)
            if status != 200:
                raise RuntimeError(f"GET {paths[number % len(paths)]} answered {status}")
            done += 1
        return done

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(loop, range(threads)))


def requests_per_second(base_url: str, paths: list[str], headers: dict, seconds: float, concurrency: int = 8) -> float:
    """As many requests as `concurrency` clients can make in `seconds`, spread over `paths`."""
    with ProcessPoolExecutor(PROCESSES) as pool:
        futures = [pool.submit(_flat_out, base_url, paths, headers, seconds, concurrency // PROCESSES)
                   for _ in range(PROCESSES)]  # fmt: skip
        return sum(sum(future.result()) for future in futures) / seconds


def _watch(base_url: str, paths: list[str], headers: dict, seconds: float, period: float) -> list[float]:
    """One thread a page, each polling its path every `period` seconds; latencies in ms
    (a failed request counts as an hour)."""
    deadline = time.monotonic() + seconds

    def page(number: int) -> list[float]:
        latencies = []
        time.sleep(period * number / len(paths))  # pages were opened at different moments
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                status, _, _ = request(base_url, paths[number], headers)
                latencies.append(1000 * (time.monotonic() - started) if status == 200 else 3_600_000)
            except OSError:
                latencies.append(3_600_000)
            time.sleep(max(0.0, period - (time.monotonic() - started)))
        return latencies

    with ThreadPoolExecutor(len(paths)) as pool:
        return [latency for latencies in pool.map(page, range(len(paths))) for latency in latencies]


def watcher_latencies(
    base_url: str, paths: list[str], headers: dict, seconds: float, period: float = 1.0
) -> list[float]:
    with ProcessPoolExecutor(PROCESSES) as pool:
        futures = [
            pool.submit(_watch, base_url, paths[n::PROCESSES], headers, seconds, period) for n in range(PROCESSES)
        ]
        return [latency for future in futures for latency in future.result()]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def poll_interval(body: str) -> float | None:
    """The interval the fragment asks htmx to poll at, or None once it has stopped polling."""
    found = re.search(r'hx-trigger="every (\d+(?:\.\d+)?)s"', body)
    return float(found.group(1)) if found else None
