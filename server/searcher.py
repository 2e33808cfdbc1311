"""What the routes need from the search side, as Protocols, so another engine (the Ray shards of policyqa_ray)
can stand in for the local index and retriever without the server importing it."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from indexer.manifest import Manifest
from indexer.records import Article
from server.retrieval import Mode, Passage
from server.time_filter import DateRange


class SearchUnavailableError(RuntimeError):
    """Part of the index cannot be searched right now (e.g. a shard is restarting): HTTP 503, retry shortly.
    Raised instead of answering from part of the corpus, so no response is silently incomplete."""


class Searcher(Protocol):
    def resolve_district(self, district: str | None) -> str | None: ...

    def search(
        self,
        query: str,
        k: int = 10,
        district: str | None = None,
        mode: Mode = "hybrid",
        dates: DateRange | None = None,
    ) -> list[Passage]: ...


class IndexHandle(Protocol):
    """The served generation: its name and manifest for /healthz, and article lookup for /articles."""

    directory: Path
    generation: str
    manifest: Manifest

    @property
    def article_count(self) -> int: ...

    @property
    def chunk_count(self) -> int: ...

    @property
    def segments(self) -> tuple[object, ...]: ...

    def article(self, article_id: str) -> Article | None: ...

    def close(self) -> None: ...
