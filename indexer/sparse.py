"""BM25 over jieba search-mode tokens, with the Chongqing gazetteer in jieba's dictionary.

Chunk tokens are computed once at indexing time and kept in the database, so rebuilding the BM25 matrix after
an article changes costs a sparse-matrix build, not a re-tokenisation of the corpus.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from indexer.normalize import NORMALIZATION_VERSION, fold

_ROW_IDS = "row_ids.npy"
_KEYS = "keys.json"
_WORDLIKE = re.compile(r"[\w\u4e00-\u9fff]")


def load_stopwords() -> frozenset[str]:
    text = resources.files("indexer").joinpath("data/stopwords_zh.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


@dataclass(frozen=True)
class SparseSettings:
    """How passages are scored by BM25. Chosen on the tuning sets (bench/tune_retrieval.py): counting the article
    title three times, as a field weight, lifted district-policies MRR@10 from 0.889 to 0.910 at k1 0.9 and left
    CMRC 2018 trial and corpus_gold within a question of where they were."""

    # How many times the article title counts in each passage's BM25 text (0 leaves it out).
    title_weight: int = 3
    k1: float = 0.9
    b: float = 0.75
    # Version of indexer.normalize.fold applied to BM25 text. Recorded in the manifest with the rest, so an index
    # tokenised before (or under another) normalisation is re-tokenised by the next `policyqa index`.
    normalization: int = NORMALIZATION_VERSION

    def __post_init__(self) -> None:
        if self.title_weight < 0 or self.k1 < 0 or not 0 <= self.b <= 1:
            raise ValueError(f"need title_weight >= 0, k1 >= 0 and 0 <= b <= 1, got {self}")


@dataclass(frozen=True)
class SparseTokenizer:
    """jieba search mode: long words and their sub-words, so 柠檬产业 matches 柠檬 as well."""

    jieba: Any  # a jieba.Tokenizer that already knows the gazetteer's names
    stopwords: frozenset[str]

    def tokenize(self, text: str) -> list[str]:
        tokens = []
        for token in self.jieba.lcut_for_search(fold(text)):  # 檸檬 and 柠\u200b檬 match 柠檬
            token = token.strip().lower()
            if token and token not in self.stopwords and _WORDLIKE.search(token):
                tokens.append(token)
        return tokens

    def passage_tokens(self, title: str, section: str | None, text: str, settings: SparseSettings) -> list[str]:
        """A passage's BM25 text: its title `title_weight` times (a title names what every passage of the article
        is about, far more reliably than any one sentence), its section heading, then the passage."""
        heading = section if section and section != title else ""
        return self.tokenize(title) * settings.title_weight + self.tokenize(f"{heading}\n{text}")


@dataclass(frozen=True)
class SparseIndex:
    """A bm25s model plus what each of its documents is: a chunk row id, and for whole articles their ids."""

    model: Any
    row_ids: np.ndarray
    keys: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        token_lists: Sequence[Sequence[str]],
        row_ids: Sequence[int],
        keys: Sequence[str] = (),
        settings: SparseSettings | None = None,
    ) -> SparseIndex:
        import bm25s

        settings = settings or SparseSettings()
        model = bm25s.BM25(k1=settings.k1, b=settings.b)
        # An empty document still needs a column, hence create_empty_token.
        model.index([list(tokens) for tokens in token_lists], show_progress=False)
        return cls(model=model, row_ids=np.asarray(row_ids, dtype=np.int64), keys=tuple(keys))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save(str(directory), show_progress=False)
        np.save(directory / _ROW_IDS, self.row_ids)
        (directory / _KEYS).write_text(json.dumps(list(self.keys), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> SparseIndex:
        import bm25s

        model = bm25s.BM25.load(str(directory), show_progress=False)
        keys = tuple(json.loads((directory / _KEYS).read_text(encoding="utf-8")))
        return cls(model=model, row_ids=np.load(directory / _ROW_IDS), keys=keys)

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every document, aligned with `row_ids` (zeros when no token is known)."""
        known = [t for t in query_tokens if t in self.model.vocab_dict]
        if not known or len(self.row_ids) == 0:
            return np.zeros(len(self.row_ids), dtype=np.float32)
        return np.asarray(self.model.get_scores(known), dtype=np.float32)


def encode_tokens(tokens: Sequence[str]) -> str:
    return json.dumps(list(tokens), ensure_ascii=False)


def decode_tokens(stored: str) -> list[str]:
    return json.loads(stored)
