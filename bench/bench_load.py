"""Load check (issue 15): 8 clients for 60 s mixing /search and /ask against a real `policyqa serve` process.

    .venv/bin/python bench/bench_load.py [--clients 8] [--seconds 60] [--index-dir DIR | --url http://127.0.0.1:8000]

Each client keeps one HTTP/1.1 connection and sends, back to back, the corpus_gold questions in turn, alternating
/search and /ask. Reports errors (anything but a 200, or a connection failure: must be 0), p50/p95/p99 client-side
latency and requests/s per endpoint and overall, then one JSON line.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench_server import GOLD, percentile
from serve_process import running_server

Row = tuple[str, float, str]  # endpoint, latency in ms, "" or what went wrong


def client_loop(base: str, questions: list[str], offset: int, deadline: float, out: list[Row]) -> None:
    """Until the deadline: (endpoint, latency ms, "" or the error) per request, appended to `out`."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    n = offset
    while time.monotonic() < deadline:
        endpoint = "/search" if n % 2 == 0 else "/ask"
        field = "query" if endpoint == "/search" else "question"
        body = json.dumps({field: questions[n % len(questions)]}, ensure_ascii=False).encode("utf-8")
        started = time.perf_counter()
        error = ""
        try:
            connection.request("POST", endpoint, body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            payload = response.read()
            if response.status != 200:
                error = f"HTTP {response.status}: {payload[:200]!r}"
        except (OSError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
            connection.close()
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        out.append((endpoint, (time.perf_counter() - started) * 1000, error))
        n += 1
    connection.close()


def summary(name: str, rows: list[Row], seconds: float) -> dict[str, Any]:
    latencies = [ms for _, ms, _ in rows]
    return {
        "endpoint": name,
        "requests": len(rows),
        "errors": sum(1 for *_, e in rows if e),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "rps": round(len(rows) / seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=Path(tempfile.gettempdir()) / "policyqa-bench-server")
    parser.add_argument("--url", help="a server already running; otherwise one is started on --index-dir")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    with nullcontext(args.url) if args.url else running_server(args.index_dir) as base:
        per_client: list[list[Row]] = [[] for _ in range(args.clients)]
        client_loop(base, questions, 0, time.monotonic() + 3, [])  # warm-up, not counted
        deadline = time.monotonic() + args.seconds
        started = time.perf_counter()
        threads = [
            threading.Thread(target=client_loop, args=(base, questions, i * 7, deadline, per_client[i]), daemon=True)
            for i in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
    rows = [row for client in per_client for row in client]
    results = [
        summary("/search", [r for r in rows if r[0] == "/search"], wall),
        summary("/ask", [r for r in rows if r[0] == "/ask"], wall),
        summary("all", rows, wall),
    ]
    errors = [e for *_, e in rows if e]
    print(f"{args.clients} clients for {wall:.1f} s against {base}")
    print(f"{'endpoint':<9}{'n':>7}{'errors':>8}{'p50':>8}{'p95':>8}{'p99':>8}{'req/s':>8}")
    for r in results:
        print(
            f"{r['endpoint']:<9}{r['requests']:>7}{r['errors']:>8}{r['p50_ms']:>8.1f}{r['p95_ms']:>8.1f}"
            f"{r['p99_ms']:>8.1f}{r['rps']:>8.1f}"
        )
    for error in errors[:5]:
        print(f"error: {error}", file=sys.stderr)
    print(json.dumps({"clients": args.clients, "seconds": round(wall, 1), "errors": len(errors), "results": results}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
