"""Frozen records passed between the indexer's stages, the retrieval layer and the evals."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """A half-open character range [start, end) into an article's cleaned text."""

    start: int
    end: int


@dataclass(frozen=True)
class Section:
    """A headed part of an article; `districts` are the canonical names the heading is about."""

    heading: str
    start: int
    end: int
    districts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Article:
    """One article after cleaning. Every offset elsewhere indexes into `text`."""

    article_id: str
    title: str
    text: str
    path: str
    source: str = ""
    # ISO text at its precision (indexer.dates): "2023-11-20" day, "2023-11" month, "2023" year, "--11-04" partial.
    date: str | None = None
    url: str | None = None
    districts: tuple[str, ...] = ()
    sections: tuple[Section, ...] = ()
    # Captions, bylines and photo credits: kept in `text` (it stays as published) but out of chunks.
    excluded: tuple[Span, ...] = ()
    # How the file's bytes were decoded (indexer.decode); reported by the build, not stored.
    encoding: str = "utf-8"
    date_precision: str | None = None  # "day", "month", "year" or "partial"; None when `date` is None

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Chunk:
    """A window of whole sentences; `article.text[start:end] == text` always holds."""

    article_id: str
    start: int
    end: int
    text: str
    section: str | None = None
    districts: tuple[str, ...] = ()
    # What the embedder sees: the verbatim text with title/heading context in front of it.
    embed_text: str = ""
    # The chunk_id of the first-indexed passage this one reprints (indexer.reprints), or None: the reprint group.
    reprint_of: str | None = None

    @property
    def chunk_id(self) -> str:
        return f"{self.article_id}:{self.start}-{self.end}"

    @property
    def embed_hash(self) -> str:
        return hashlib.sha256((self.embed_text or self.text).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Skipped:
    """A file (or one line of a JSONL file) that could not be read as an article."""

    path: str
    reason: str
