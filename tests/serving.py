"""`policyqa serve` as a subprocess on a free port, for the tests that need a real server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Model load plus (for a fresh index dir) indexing the seed corpus, on 2 busy cores.
START_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(base: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


@dataclass(frozen=True)
class Served:
    base: str
    process: subprocess.Popen
    log: Path
    health: dict[str, Any]


@contextmanager
def serving(index_dir: Path, log: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """Start `policyqa serve --index-dir INDEX_DIR ARGS...`, yield once /healthz answers, stop it by its PID."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "policyqa.cli", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [*command, "--index-dir", str(index_dir)],
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, f"server exited early:\n{log.read_text(errors='replace')[-3000:]}"
            assert time.monotonic() < deadline, f"no /healthz after {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                    health = json.loads(response.read())
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        yield Served(base, process, log, health)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
