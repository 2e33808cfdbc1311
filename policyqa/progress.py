"""The embedding progress bar shared by the commands that may index: shown on a terminal only."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def embedding_progress() -> Callable[[int, int], None]:
    """A callback for build_index: a tqdm bar with chunks/s, closed when the last batch is in."""
    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if not sys.stderr.isatty():
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="chunk", desc="embedding", file=sys.stderr)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return progress
