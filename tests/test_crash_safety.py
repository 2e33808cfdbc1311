"""Killing the indexer at any moment leaves the previous index loadable and complete."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from indexer.build import build_index
from indexer.settings import IndexSettings
from tests.fakes import FakeEmbedder
from tests.materialize import materialize

ROOT = Path(__file__).parents[1]
# The subprocess embeds slowly (a fake that sleeps per text) so that kills land in every phase of a run.
WRITER = """
import sys, time
from pathlib import Path
from indexer.build import build_index
from indexer.settings import IndexSettings
from tests.fakes import FakeEmbedder
from tests.materialize import materialize

class SlowFakeEmbedder(FakeEmbedder):
    def embed_passages(self, texts):
        time.sleep(0.01 * len(texts))
        return super().embed_passages(texts)

settings = IndexSettings(index_dir=Path(sys.argv[2]), model="fake/bigram-hash")
print("start", flush=True)
build_index([Path(sys.argv[1])], settings, lambda: SlowFakeEmbedder())
print("done", flush=True)
"""


def state(index_dir: Path) -> dict[str, tuple[str, float]]:
    index = materialize(index_dir)
    assert len(index.vectors) == len(index.chunks) == index.bm25_documents
    for chunk in index.chunks.values():
        assert index.articles[chunk.article_id].text[chunk.start : chunk.end] == chunk.text
    return {c.chunk_id: (c.text, float(np.round(index.vector(r).sum(), 4))) for r, c in index.chunks.items()}


def test_killing_the_indexer_keeps_the_previous_index(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    held = corpus / "003_115a21c0de3ff03d.txt"
    held_text = held.read_bytes()
    held.unlink()
    index_dir = tmp_path / "index"
    build_index([corpus], IndexSettings(index_dir=index_dir, model="fake/bigram-hash"), lambda: FakeEmbedder())
    before = state(index_dir)
    held.write_bytes(held_text)
    # What a complete run must produce, built in a scratch directory from the same files.
    scratch = tmp_path / "scratch"
    build_index([corpus], IndexSettings(index_dir=scratch, model="fake/bigram-hash"), lambda: FakeEmbedder())
    complete = state(scratch)
    assert set(complete) > set(before)

    outcomes = []
    for delay in (0.5, 1.5, 2.5, 3.5, 5.0):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(corpus), str(index_dir)], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "start"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        outcomes.append(proc.returncode)
        after = state(index_dir)
        # A kill after the atomic swap but before exit legitimately leaves the new index; nothing in between.
        assert after in (before, complete), f"a kill after {delay}s left a partial index"
        if after == complete:
            break
    assert -signal.SIGKILL in outcomes
    # Half-written generations are cleared by the next successful run, and it publishes the full update.
    build_index([corpus], IndexSettings(index_dir=index_dir, model="fake/bigram-hash"), lambda: FakeEmbedder())
    assert state(index_dir) == complete
    assert len(list(index_dir.glob("gen-*"))) <= 2
