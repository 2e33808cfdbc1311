"""BM25 over jieba search-mode tokens, with the Chongqing gazetteer in jieba's dictionary.

Passage tokens are computed once at indexing time and kept as postings in their segment (indexer.postings);
indexer.bm25 scores them with corpus-wide statistics.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from indexer.normalize import NORMALIZATION_VERSION, fold

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


def encode_tokens(tokens: Sequence[str]) -> str:
    return json.dumps(list(tokens), ensure_ascii=False)


def decode_tokens(stored: str) -> list[str]:
    return json.loads(stored)
