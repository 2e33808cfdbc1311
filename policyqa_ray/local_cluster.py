"""A real two-node Ray cluster on this machine's loopback addresses, for tests and benchmarks: the head on
127.0.0.2, a worker node on 127.0.0.3 (Ray rewrites 127.0.0.1 to the interface address, so not that one).

Each node is a `ray start --block` in its own process group, with explicit free ports and its own temp dir, and is
stopped by killing exactly that process group: `ray stop` would look for Ray processes by name and could stop
another user's cluster on a shared machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _ray_binary() -> str:
    return str(Path(sys.executable).with_name("ray"))


@dataclass
class LocalCluster:
    cpus_per_node: int = 2
    object_store_bytes: int = 200 * 1024 * 1024
    temp_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pqray-", dir="/tmp")))
    processes: list[subprocess.Popen] = field(default_factory=list)
    address: str = ""

    def _node(self, ip: str, head: bool, log: Path) -> subprocess.Popen:
        args = [
            _ray_binary(),
            "start",
            "--block",
            f"--node-ip-address={ip}",
            f"--num-cpus={self.cpus_per_node}",
            "--num-gpus=0",
            f"--object-store-memory={self.object_store_bytes}",
            f"--node-manager-port={free_port(ip)}",
            f"--object-manager-port={free_port(ip)}",
            f"--runtime-env-agent-port={free_port(ip)}",
            f"--dashboard-agent-grpc-port={free_port(ip)}",
            f"--dashboard-agent-listen-port={free_port(ip)}",
            f"--metrics-export-port={free_port(ip)}",
            "--disable-usage-stats",
        ]
        if head:
            port = free_port(ip)
            self.address = f"{ip}:{port}"
            args += [
                "--head",
                f"--port={port}",
                "--include-dashboard=false",
                f"--temp-dir={self.temp_dir}",
            ]
        else:
            args += [f"--address={self.address}"]
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "OMP_WAIT_POLICY": "PASSIVE"}
        out = log.open("ab")
        # Own session and process group: stop() kills exactly what this started.
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def start(self, timeout_s: float = 90) -> LocalCluster:
        try:
            self.processes.append(self._node(HEAD_IP, True, self.temp_dir / "head.log"))
            self._wait_for_nodes(1, timeout_s)
            self.processes.append(self._node(WORKER_IP, False, self.temp_dir / "worker.log"))
            self._wait_for_nodes(2, timeout_s)
        except BaseException:
            logs = {p.name: p.read_text(errors="replace")[-2000:] for p in self.temp_dir.glob("*.log")}
            self.stop()
            raise RuntimeError(f"the Ray cluster did not start: {logs}") from None
        return self

    def _wait_for_nodes(self, count: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        probe = [_ray_binary(), "status", f"--address={self.address}"]
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a Ray node exited ({process.returncode}); logs in {self.temp_dir}")
            found = subprocess.run(probe, capture_output=True, text=True, timeout=60)
            if found.returncode == 0 and _alive_nodes(found.stdout) >= count:
                return
            time.sleep(1)
        raise TimeoutError(f"the Ray cluster did not reach {count} nodes in {timeout_s} s; logs in {self.temp_dir}")

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for process in reversed(self.processes):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, sig)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(p.poll() is None for p in self.processes):
                time.sleep(0.2)
        self.processes.clear()
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _alive_nodes(status: str) -> int:
    """Nodes listed under "Active:" in `ray status` (which asks the GCS directly; no dashboard, no driver job)."""
    active = status.split("Active:", 1)[-1].split("Pending:", 1)[0]
    return sum(1 for line in active.splitlines() if "node_" in line)
