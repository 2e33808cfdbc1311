"""`policyqa serve` as a subprocess on a free port, for the benches that need a real server (load, fuzz)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench_server import ROOT, free_port, stop, wait_ready


@contextmanager
def running_server(index_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Yields the base URL once /healthz answers; the first run on a fresh index dir indexes corpus/ (a minute)."""
    import os

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkstemp(prefix="policyqa-serve-", suffix=".log")[1])
    command = [sys.executable, "-m", "policyqa.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--index-dir", str(index_dir)]
    print(f"starting {' '.join(command)} (log: {log})", file=sys.stderr)
    started = time.perf_counter()
    with log.open("wb") as log_file:
        server = subprocess.Popen(
            command, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, **(extra_env or {})}
        )
    try:
        wait_ready(base, server, log)
        print(f"server ready in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        yield base
    finally:
        stop(server)
