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
    stopped: list[int] = field(default_factory=list)  # every process stop() ended

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
        """Kill the nodes' process groups, and the workers their raylets started (Ray gives each worker a session
        of its own, so they are found as descendants, before their parents go)."""
        started = [p.pid for p in self.processes]
        workers = _descendants(started)
        self.stopped = [*started, *workers]
        for sig, wait_s in ((signal.SIGTERM, 3), (signal.SIGKILL, 10)):
            for group in reversed(started):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, sig)
            for pid in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline and any(_alive(pid) for pid in [*started, *workers]):
                time.sleep(0.2)
        for process in self.processes:
            process.wait(timeout=10)
        self.processes.clear()
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def running(self) -> list[int]:
        """Processes of this cluster still running: none after stop()."""
        groups = set(self.stopped)
        left = [pid for pid in self.stopped if _alive(pid)]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] != "Z" and int(fields[2]) in groups:
                left.append(int(stat.parent.name))
        return sorted(set(left))

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _alive_nodes(status: str) -> int:
    """Nodes listed under "Active:" in `ray status` (which asks the GCS directly; no dashboard, no driver job)."""
    active = status.split("Active:", 1)[-1].split("Pending:", 1)[0]
    return sum(1 for line in active.splitlines() if "node_" in line)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _descendants(roots: list[int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
