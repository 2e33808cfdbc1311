"""Server latency benchmark: `policyqa serve` on a free port, then /search and /ask, one client and eight.

    .venv/bin/python bench/bench_server.py [--configs torch:1,auto:0] [--endpoint both] [--rounds 1]

Starts one server per configuration (ENCODER:WORKERS; the first is the baseline), each on its own index of the
seed corpus, and records how long each takes to answer /healthz. Then, round by round and configuration by
configuration, sends the questions of eval/datasets/corpus_gold.jsonl one at a time (after a warm-up) and then
from 8 concurrent clients (each on one kept-alive connection; --new-connection for one per request), and prints
p50/p95/p99 client-side latency, requests/s, errors and the server-reported
took_ms p50 per configuration, endpoint and mode, the 8-client throughput ratios to the baseline, then one JSON
line. Targets (issue 11): /search p50 <= 10 ms, /ask p50 <= 12 ms one client; 8 clients >= 2.5x torch:1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
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
    """One request on a new connection (urllib); returns client-side latency in ms and the JSON body."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        payload = response.read()
    return (time.perf_counter() - started) * 1000, json.loads(payload)


class KeepAliveClient:
    """One client's HTTP/1.1 connection, kept open between requests as a browser keeps it: what is timed is the
    request, not a TCP handshake and urllib's per-call set-up (about 1 ms here)."""

    def __init__(self, base: str) -> None:
        host, _, port = base.removeprefix("http://").partition(":")
        self._connection = http.client.HTTPConnection(host, int(port), timeout=60)

    def post(self, base: str, path: str, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        started = time.perf_counter()
        try:
            self._connection.request("POST", path, data, {"Content-Type": "application/json"})
            response = self._connection.getresponse()
            payload = response.read()
        except (http.client.HTTPException, OSError):
            self._connection.close()  # reopened by the next request
            raise
        if response.status != 200:
            raise urllib.error.HTTPError(base + path, response.status, response.reason, response.headers, None)
        return (time.perf_counter() - started) * 1000, json.loads(payload)


Post = Any  # post(base, path, body) -> (ms, payload)


def poster(keep_alive: bool, base: str) -> Post:
    return KeepAliveClient(base).post if keep_alive else post


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


Timings = tuple[list[float], list[float], float, int]


def run_single(base: str, path: str, bodies: list[dict[str, Any]], keep_alive: bool) -> Timings:
    latencies, took, errors = [], [], 0
    send = poster(keep_alive, base)
    started = time.perf_counter()
    for body in bodies:
        try:
            ms, payload = send(base, path, body)
        except (urllib.error.URLError, http.client.HTTPException, OSError):
            errors += 1
            continue
        latencies.append(ms)
        took.append(payload["took_ms"])
    return latencies, took, time.perf_counter() - started, errors


def run_concurrent(base: str, path: str, bodies: list[dict[str, Any]], keep_alive: bool) -> Timings:
    """Eight threads take the next request from a shared counter until all are sent: bounded, stops by itself."""
    latencies: list[float] = []
    took: list[float] = []
    failures: list[BaseException] = []
    errors = [0]
    lock = threading.Lock()
    position = iter(range(len(bodies)))

    def client() -> None:
        send = poster(keep_alive, base)
        while True:
            with lock:
                index = next(position, None)
            if index is None or failures:
                return
            try:
                ms, payload = send(base, path, bodies[index])
            # An HTTP error or a refused connection: counted.
            except (urllib.error.URLError, http.client.HTTPException, OSError):
                with lock:
                    errors[0] += 1
                continue
            except BaseException as error:  # anything else is a bug here: reported after the join
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
    return latencies, took, time.perf_counter() - started, errors[0]


def benchmark(base: str, endpoint: str, questions: list[str], rounds: int, keep_alive: bool) -> list[dict[str, Any]]:
    field = "query" if endpoint == "search" else "question"
    bodies = [{field: q} for q in questions] * rounds
    for body in bodies[:WARM_UP_REQUESTS]:
        post(base, f"/{endpoint}", body)
    rows = []
    for mode, runner in (("1 client", run_single), (f"{CONCURRENT_CLIENTS} clients", run_concurrent)):
        latencies, took, wall_s, errors = runner(base, f"/{endpoint}", bodies, keep_alive)
        rows.append({**summarise(f"/{endpoint}", mode, latencies, took, wall_s), "errors": errors})
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    header = (
        f"{'config':<16}{'endpoint':<9}{'mode':<11}{'n':>5}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'req/s':>8}"
        f"{'took p50':>10}{'errors':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['config']:<16}{r['endpoint']:<9}{r['mode']:<11}{r['requests']:>5}{r['p50_ms']:>8.1f}{r['p95_ms']:>8.1f}"
            f"{r['p99_ms']:>8.1f}{r['max_ms']:>8.1f}{r['rps']:>8.1f}{r['server_took_p50_ms']:>10.1f}{r['errors']:>8}"
        )
    print("latencies in ms, client-side; 'took p50' is the server-reported retrieval (+ answering) time")


@dataclass(frozen=True)
class Config:
    """One server set-up: an encoder (POLICYQA_ENCODER), a worker count (0: the server's default) and any other
    POLICYQA_ settings, e.g. `auto:0:QUERY_BATCH=1`."""

    encoder: str
    workers: int
    settings: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        extra = "".join(f" {k.lower()}={v}" for k, v in self.settings)
        return f"{self.encoder}/w{self.workers or 'default'}{extra}"

    def env(self, threads: int) -> dict[str, str]:
        extra = {f"POLICYQA_{key}": value for key, value in self.settings}
        return {**os.environ, "POLICYQA_ENCODER": self.encoder, "POLICYQA_TORCH_THREADS": str(threads), **extra}


def parse_configs(text: str) -> list[Config]:
    configs = []
    for item in text.split(","):
        encoder, *rest = item.strip().split(":")
        workers = int(rest[0] or 0) if rest else 0
        pairs = tuple((key, value) for key, _, value in (setting.partition("=") for setting in rest[1:]))
        configs.append(Config(encoder, workers, pairs))
    return configs


def build_index(config: Config, index_dir: Path) -> None:
    """Before the clock starts: start-up is measured with an index present and the model cache warm."""
    command = [sys.executable, "-m", "policyqa.cli", "index", str(ROOT / "corpus"), "--index-dir", str(index_dir)]
    subprocess.run(command, cwd=ROOT, env=config.env(2), check=True, capture_output=True)


def start(config: Config, index_dir: Path) -> tuple[subprocess.Popen[bytes], str, Path, float]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkstemp(prefix="policyqa-bench-serve-", suffix=".log")[1])
    command = [sys.executable, "-m", "policyqa.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--index-dir", str(index_dir)] + (["--workers", str(config.workers)] if config.workers else [])
    print(f"{config.label}: {' '.join(command)} (log: {log})", file=sys.stderr)
    started = time.perf_counter()
    with log.open("wb") as log_file:
        server = subprocess.Popen(command, cwd=ROOT, env=config.env(2), stdout=log_file, stderr=subprocess.STDOUT)
    wait_ready(base, server, log)
    ready_s = time.perf_counter() - started
    print(f"{config.label}: ready in {ready_s:.1f} s", file=sys.stderr)
    return server, base, log, ready_s


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=Path(tempfile.gettempdir()) / "policyqa-bench-server")
    parser.add_argument("--endpoint", choices=["search", "ask", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=1, help="send the question set this many times per mode")
    parser.add_argument(
        "--new-connection",
        action="store_true",
        help="open a new connection per request (urllib), as the benchmark did before keep-alive clients",
    )
    parser.add_argument(
        "--configs",
        default="torch:1,auto:0",
        help="comma-separated ENCODER:WORKERS[:SETTING=VALUE...] (workers 0: one per core; settings without "
        "the POLICYQA_ prefix); the first is the baseline",
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    questions = [json.loads(line)["question"] for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    configs = parse_configs(args.configs)
    endpoints = ["search", "ask"] if args.endpoint == "both" else [args.endpoint]

    # All servers up at once (idle ones cost no CPU), then the configurations take turns round by round, so a
    # neighbour's load on the shared machine falls on all of them alike.
    servers, rows, ready = [], [], {}
    try:
        for config in configs:
            index_dir = args.index_dir / config.encoder  # configurations of one encoder share its index
            build_index(config, index_dir)
            server, base, _log, ready_s = start(config, index_dir)
            servers.append((config, server, base))
            ready[config.label] = round(ready_s, 2)
        for _ in range(args.rounds):
            for config, _server, base in servers:
                for endpoint in endpoints:
                    found = benchmark(base, endpoint, questions, 1, not args.new_connection)
                    rows += [{"config": config.label, **row} for row in found]
    finally:
        for _config, server, _base in servers:
            stop(server)
    rows = merge_rounds(rows)
    print(f"{len(questions)} questions from {GOLD.relative_to(ROOT)} x {args.rounds} round(s)")
    print_table(rows)
    ratios = throughput_ratios(rows, configs)
    for name, value in ratios.items():
        print(f"{name}: {value}x the baseline ({configs[0].label})")
    client = "new connection per request" if args.new_connection else "keep-alive"
    summary = {"questions": len(questions), "rounds": args.rounds, "client": client, "ready_s": ready, "ratios": ratios}
    print(json.dumps({**summary, "results": rows}, ensure_ascii=False))
    return 0


def merge_rounds(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rounds of one config, endpoint and mode become one row: medians of the figures, errors summed."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["config"], row["endpoint"], row["mode"]), []).append(row)
    merged = []
    for group in groups.values():
        row = {key: group[0][key] for key in ("config", "endpoint", "mode")}
        row["requests"] = sum(r["requests"] for r in group)
        for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "rps", "server_took_p50_ms"):
            row[key] = round(statistics.median(r[key] for r in group), 1)
        row["errors"] = sum(r["errors"] for r in group)
        row["rps_rounds"] = [r["rps"] for r in group]  # the spread says how much the median can be trusted
        merged.append(row)
    return merged


def throughput_ratios(rows: list[dict[str, Any]], configs: list[Config]) -> dict[str, float]:
    """Each configuration's 8-client requests/s over the first configuration's, per endpoint."""
    rps = {(r["config"], r["endpoint"]): r["rps"] for r in rows if r["mode"] != "1 client"}
    baseline = configs[0].label
    ratios = {}
    for config in configs[1:]:
        for (label, endpoint), value in rps.items():
            if label == config.label and rps.get((baseline, endpoint)):
                ratios[f"{label} {endpoint} 8-client rps"] = round(value / rps[(baseline, endpoint)], 2)
    return ratios


if __name__ == "__main__":
    sys.exit(main())
