"""Whether a query is the only request on the machine right now, across every server process of this user.

A query may take both cores (indexer/encoders/widening.py) only when no other request is being served anywhere on
the machine, in this worker or another. Checking only for other embeddings (the first design) let a query go wide
while other requests were retrieving or answering, and under load that cost 8% of /ask throughput (128-133 vs
139-143 req/s, 8 clients, two workers).

Across processes this is a POSIX record lock (fcntl) on one byte of a per-user file: every process serving at
least one request holds it shared; a query goes wide only if it can take it exclusive without waiting. Record locks
belong to the process, so this process's own shared lock never blocks its upgrade, and the upgrade is atomic: it
fails, keeping the shared lock, while any other process holds one. Within the process a counter and a condition do
the same. The file descriptor stays open for the process's life: closing any descriptor of the file would drop
every record lock the process holds on it.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def default_lock_path() -> Path:
    # Per user, machine-wide: the cores are shared by every server on the machine, not one server's workers.
    return Path(tempfile.gettempdir()) / f"policyqa-requests-{os.getuid()}.lock"


class MachineLoad:
    def __init__(self, lock_path: Path | None = None) -> None:
        self.lock_path = lock_path or default_lock_path()
        self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        self._changed = threading.Condition()
        self._serving = 0  # requests in this process
        self._wide = False  # a query of this process runs wide now

    @contextmanager
    def serving(self) -> Iterator[None]:
        """Around a whole request. Waits while a query runs wide, here or in another process (a few ms)."""
        with self._changed:
            self._changed.wait_for(lambda: not self._wide)
            self._serving += 1
            if self._serving == 1:
                fcntl.lockf(self._fd, fcntl.LOCK_SH)
        try:
            yield
        finally:
            with self._changed:
                self._serving -= 1
                if self._serving == 0:
                    fcntl.lockf(self._fd, fcntl.LOCK_UN)
                self._changed.notify_all()

    @contextmanager
    def wide_if_alone(self) -> Iterator[bool]:
        """True, holding the machine for the body, when no other request is being served anywhere; else False at
        once (never waits)."""
        with self._changed:
            alone = self._serving <= 1 and not self._wide and self._try_exclusive()
            if alone:
                self._wide = True
        try:
            yield alone
        finally:
            if alone:
                with self._changed:
                    fcntl.lockf(self._fd, fcntl.LOCK_SH if self._serving else fcntl.LOCK_UN)
                    self._wide = False
                    self._changed.notify_all()

    def wait_while_wide(self) -> None:
        """For a narrow run outside `serving` (the CLI, evals): not beside a wide one of this process."""
        with self._changed:
            self._changed.wait_for(lambda: not self._wide)

    def _try_exclusive(self) -> bool:
        try:
            fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # EAGAIN/EACCES: another process holds it
            return False
        return True
