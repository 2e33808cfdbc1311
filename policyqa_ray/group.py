"""The driver's side of the shards: start the actors, open a generation on all of them, call them with a timeout,
and turn a dead or unreachable shard into `SearchUnavailableError` (HTTP 503), never a 500."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexer.bm25 import CorpusStats
from indexer.manifest import Manifest
from indexer.records import Article
from indexer.store import Lease, acquire, manifest_path
from policyqa_ray.settings import RaySettings
from policyqa_ray.shard import ShardActor, ShardInfo, assign, segment_metas
from server.searcher import SearchUnavailableError


@dataclass(frozen=True)
class Layout:
    """One generation as the driver routes it: which shard holds each segment, and the corpus-wide statistics."""

    generation: str
    manifest: Manifest
    bases: np.ndarray  # global row id of each segment's first row, in generation order
    article_bases: np.ndarray
    owners: tuple[int, ...]  # shard of each segment
    passages: CorpusStats
    articles: CorpusStats
    # token -> (passages, articles) holding it, corpus-wide; filled as queries bring new tokens (bounded below).
    frequencies: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False)

    def remember(self, counted: dict[str, list[int]]) -> None:
        if len(self.frequencies) > 1_000_000:
            self.frequencies.clear()  # a vocabulary's worth: start over rather than grow without bound
        self.frequencies.update((t, (p, a)) for t, (p, a) in counted.items())

    def owner_of_row(self, row: int) -> int:
        return self.owners[int(np.searchsorted(self.bases, row, side="right") - 1)]

    def owner_of_article(self, number: int) -> int:
        return self.owners[int(np.searchsorted(self.article_bases, number, side="right") - 1)]

    def by_owner(self, rows: Sequence[int]) -> dict[int, list[int]]:
        grouped: dict[int, list[int]] = {}
        for row in rows:
            grouped.setdefault(self.owner_of_row(row), []).append(int(row))
        return grouped


class ShardGroup:
    def __init__(
        self, ray: Any, actors: list[Any], index_dir: Path, timeout_s: float, open_timeout_s: float | None = None
    ) -> None:
        self.ray, self.actors, self.index_dir, self.timeout_s = ray, actors, index_dir, timeout_s
        self.open_timeout_s = max(timeout_s, open_timeout_s or timeout_s)
        # Articles by global number, read from the shards. A number is never reused for another article, so
        # the cache holds across generations; bounded, it starts over when full.
        self.articles: dict[int, Article] = {}

    def remember_articles(self, found: dict[int, Article], limit: int = 2048) -> None:
        if len(self.articles) + len(found) > limit:
            self.articles.clear()
        self.articles.update(found)

    @classmethod
    def start(cls, ray: Any, index_dir: Path, settings: RaySettings, nprobe: int | None = None) -> ShardGroup:
        """S shard actors, spread over the cluster's nodes; Ray restarts one that dies (its calls meanwhile fail
        and the request gets 503; the restarted actor reopens the generation on its first call)."""
        remote = ray.remote(ShardActor)
        tag = uuid.uuid4().hex[:8]
        actors = [
            remote.options(
                name=f"policyqa-shard-{tag}-{i}",
                max_restarts=-1,
                max_task_retries=0,
                max_concurrency=4,
                num_cpus=settings.shard_cpus,
                scheduling_strategy="SPREAD",
            ).remote(str(index_dir), i, settings.shards, nprobe)
            for i in range(settings.shards)
        ]
        return cls(ray, actors, index_dir, settings.call_timeout_s, settings.open_timeout_s)

    def submit(self, method: str, *args: Any, shards: Sequence[int] | None = None) -> list[Any]:
        chosen = range(len(self.actors)) if shards is None else shards
        return [getattr(self.actors[s], method).remote(*args) for s in chosen]

    def gather(self, refs: list[Any], timeout_s: float | None = None) -> list[Any]:
        exceptions = self.ray.exceptions
        try:
            return self.ray.get(refs, timeout=timeout_s or self.timeout_s)
        except exceptions.RayTaskError as exc:
            raise exc.as_instanceof_cause() from None  # an error inside a shard: the caller's to handle
        except (exceptions.RayError, TimeoutError) as exc:
            raise SearchUnavailableError(
                f"a search shard is unavailable ({type(exc).__name__}); it is restarting, retry shortly"
            ) from exc

    def call(self, method: str, *args: Any) -> list[Any]:
        return self.gather(self.submit(method, *args))

    def layout(self, generation: str) -> Layout:
        manifest = Manifest.load(manifest_path(self.index_dir, generation))
        metas = segment_metas(self.index_dir, manifest)
        infos: list[ShardInfo] = self.gather(self.submit("open", generation), self.open_timeout_s)
        passages, articles = CorpusStats(0, 0), CorpusStats(0, 0)
        for info in infos:
            passages, articles = passages + info.passages, articles + info.articles
        return Layout(
            generation,
            manifest,
            np.asarray([m.base for m in metas], np.int64),
            np.asarray([m.article_base for m in metas], np.int64),
            tuple(assign([m.rows for m in metas], len(self.actors))),
            passages,
            articles,
        )

    def open_live(self) -> tuple[Layout, Lease]:
        """Lease the published generation (so its files outlive any shard restart) and open it on every shard."""
        generation, lease = acquire(self.index_dir)
        try:
            return self.layout(generation), lease
        except BaseException:
            lease.release()
            raise

    def stop(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor, no_restart=True)
