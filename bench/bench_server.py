"""Server latency benchmark: `policyqa serve` on a free port, then /search and /ask, one client and eight.

    .venv/bin/python bench/bench_server.py [--index-dir /tmp/policyqa-bench-server] [--endpoint both] [--rounds 1]

Sends the questions of eval/datasets/corpus_gold.jsonl one at a time (after a warm-up), then from 8 concurrent
clients, and prints p50/p95/p99 client-side latency, requests/s and the server-reported took_ms p50 per endpoint
and mode, then one JSON line. The first run builds the index (about a minute); later runs reuse it.
Targets (issues 3 and 4): /search p50 <= 30 ms and p95 <= 80 ms single-client; /ask p50 <= 40 ms.
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "eval" / "datasets" / "corpus_gold.jsonl"
CONCURRENT_CLIENTS = 8
WARM_UP_REQUESTS = 10
START_TIMEOUT_S = 600


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(base: str, path: str, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """One request; returns client-side latency in ms and the JSON body. Anything but 200 aborts the benchmark."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        payload = response.read()
    return (time.perf_counter() - started) * 1000, json.loads(payload)


def wait_ready(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited with {server.returncode}:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"server not ready after {START_TIMEOUT_S} s; log: {log}")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: with 164 samples p99 is the second-largest, not an interpolation."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def summarise(endpoint: str, mode: str, latencies: list[float], took: list[float], wall_s: float) -> dict[str, Any]:
    return {
        "endpoint": endpoint,
        "mode": mode,
        "requests": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies), 1),
        "rps": round(len(latencies) / wall_s, 1),
        "server_took_p50_ms": round(statistics.median(took), 1),
    }


def run_single(base: str, path: str, bodies: list[dict[str, Any]]) -> tuple[list[float], list[float], float]:
    latencies, took = [], []
    started = time.perf_counter()
    for body in bodies:
        ms, payload = post(base, path, body)
        latencies.append(ms)
        took.append(payload["took_ms"])
    return latencies, took, time.perf_counter() - started


def run_concurrent(base: str, path: str, bodies: list[dict[str, Any]]) -> tuple[list[float], list[float], float]:
    """Eight threads take the next request from a shared counter until all are sent: bounded, stops by itself."""
    latencies: list[float] = []
    took: list[float] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    position = iter(range(len(bodies)))

    def client() -> None:
        while True:
            with lock:
                index = next(position, None)
            if index is None or failures:
                return
            try:
                ms, payload = post(base, path, bodies[index])
            except BaseException as error:  # reported after the join, so a failing server stops the run
                with lock:
                    failures.append(error)
                return
            with lock:
                latencies.append(ms)
                took.append(payload["took_ms"])

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CONCURRENT_CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"a request failed: {failures[0]!r}")
    return latencies, took, time.perf_counter() - started


def benchmark(base: str, endpoint: str, questions: list[str], rounds: int) -> list[dict[str, Any]]:
    field = "query" if endpoint == "search" else "question"
    bodies = [{field: q} for q in questions] * rounds
    for body in bodies[:WARM_UP_REQUESTS]:
        post(base, f"/{endpoint}", body)
    rows = []
    for mode, runner in (("1 client", run_single), (f"{CONCURRENT_CLIENTS} clients", run_concurrent)):
        latencies, took, wall_s = runner(base, f"/{endpoint}", bodies)
        rows.append(summarise(f"/{endpoint}", mode, latencies, took, wall_s))
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    header = f"{'endpoint':<9}{'mode':<11}{'n':>5}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'req/s':>8}{'took p50':>10}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['endpoint']:<9}{r['mode']:<11}{r['requests']:>5}{r['p50_ms']:>8.1f}{r['p95_ms']:>8.1f}"
            f"{r['p99_ms']:>8.1f}{r['max_ms']:>8.1f}{r['rps']:>8.1f}{r['server_took_p50_ms']:>10.1f}"
        )
    print("latencies in ms, client-side; 'took p50' is the server-reported retrieval (+ answering) time")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=Path(tempfile.gettempdir()) / "policyqa-bench-server")
    parser.add_argument("--endpoint", choices=["search", "ask", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=1, help="send the question set this many times per mode")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    questions = [json.loads(line)["question"] for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkstemp(prefix="policyqa-bench-serve-", suffix=".log")[1])
    command = [sys.executable, "-m", "policyqa.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--index-dir", str(args.index_dir)]
    print(f"starting {' '.join(command)} (log: {log})", file=sys.stderr)
    started = time.perf_counter()
    with log.open("wb") as log_file:
        server = subprocess.Popen(command, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        wait_ready(base, server, log)
        print(f"server ready in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        endpoints = ["search", "ask"] if args.endpoint == "both" else [args.endpoint]
        rows = [row for endpoint in endpoints for row in benchmark(base, endpoint, questions, args.rounds)]
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    print(f"{len(questions)} questions from {GOLD.relative_to(ROOT)} x {args.rounds} round(s), 127.0.0.1:{port}")
    print_table(rows)
    print(json.dumps({"questions": len(questions), "rounds": args.rounds, "results": rows}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
