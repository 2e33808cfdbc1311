"""Sharded search on the driver: fan a query out to every shard, merge their candidates into exactly the lists a
single-node index would have produced, and rank them with the same `Retriever.rank` (fusion, district boost,
dedupe), so the answer does not depend on the number of shards.

Per query: the shards count the query's terms (while the driver embeds the query), then score with corpus-wide
statistics and return per-segment top lists with both scores; ranking then fetches the texts it compares and the
chunks and articles it returns from the shards that hold them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from indexer.manifest import Manifest
from indexer.records import Article, Chunk
from indexer.store import Lease
from policyqa_ray.group import Layout, ShardGroup
from policyqa_ray.shard import Scored, ShardCandidates, ShardQuery
from server.question_time import QuestionTime, question_time
from server.retrieval import Candidates, Mode, Passage, Retriever
from server.time_filter import DateRange


def merge_top(lists: Sequence[Scored], n: int) -> dict[int, float]:
    """What `IndexView.dense` / `SparseScores.top` compute: segment lists in generation order, a stable sort by
    score, the first n."""
    found: list[tuple[float, int]] = []
    for _, ids, scores in sorted(lists, key=lambda item: item[0]):
        found.extend(zip(scores, ids, strict=True))
    found.sort(key=lambda item: -item[0])
    return {row: score for score, row in found[:n]}


def merge_candidates(
    query: str, q: ShardQuery, results: Sequence[ShardCandidates], mode: Mode, asked: QuestionTime
) -> Candidates:
    dense = merge_top([s for r in results for s in r.dense], q.n)
    sparse = merge_top([s for r in results for s in r.sparse], q.n)
    if q.complete and q.vector is not None and q.sparse:
        # Retriever._complete, in its order: rows sorted, BM25 only above zero.
        bm25_of = {row: score for r in results for row, score in r.bm25_of.items()}
        cosine_of = {row: score for r in results for row, score in r.cosine_of.items()}
        sparse.update((row, bm25_of[row]) for row in sorted(dense.keys() - sparse.keys()) if row in bm25_of)
        dense.update((row, cosine_of[row]) for row in sorted(sparse.keys() - dense.keys()))
    articles = merge_top([s for r in results for s in r.articles], q.n) if q.with_articles else {}
    return Candidates(query, q.vector, dense, sparse, q.named, articles, asked)


class CandidateView:
    """The part of `IndexView` that `Retriever.rank` reads, for one query: article numbers and district tags of the
    candidates from the shards' answers, texts, chunks and articles fetched from the shards that hold them."""

    def __init__(self, group: ShardGroup, layout: Layout, results: Sequence[ShardCandidates]) -> None:
        self.group, self.layout = group, layout
        self.article_of = {row: n for r in results for row, n in r.article_of.items()}
        self.tagged: dict[str, set[int]] = {}
        for r in results:
            for district, rows in r.tagged.items():
                self.tagged.setdefault(district, set()).update(rows)
        self._chunks: dict[int, Chunk] = {row: c for r in results for row, c in r.chunks.items()}

    def _fan(self, method: str, rows: Sequence[int], *extra: object) -> list[object]:
        grouped = self.layout.by_owner(rows)
        refs = [
            getattr(self.group.actors[shard], method).remote(self.layout.generation, part, *extra)
            for shard, part in grouped.items()
        ]
        return self.group.gather(refs)

    def article_numbers(self, rows: Sequence[int]) -> dict[int, int]:
        rows = [int(row) for row in rows]
        missing = [row for row in rows if row not in self.article_of]
        if missing:  # rows that were not candidates, e.g. other copies of a reprinted passage
            for part in self._fan("article_numbers", missing):
                self.article_of.update(part)  # type: ignore[call-overload]
        return {row: self.article_of[row] for row in rows}

    def reprint_groups(self, rows: Sequence[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        for part in self._fan("reprint_groups", [int(row) for row in rows]):
            found.update(part)  # type: ignore[call-overload]
        return found

    def row_days(self, rows: Sequence[int]) -> dict[int, tuple[int, int]]:
        found: dict[int, tuple[int, int]] = {}
        for part in self._fan("row_days", [int(row) for row in rows]):
            found.update(part)  # type: ignore[call-overload]
        return found

    def reprint_members(self, groups: Sequence[str]) -> dict[str, list[int]]:
        # Every shard: the copies of a passage may sit in any segment.
        found: dict[str, set[int]] = {}
        for part in self.group.call("reprint_members", self.layout.generation, list(groups)):
            for group, rows in part.items():
                found.setdefault(group, set()).update(rows)
        return {group: sorted(rows) for group, rows in found.items()}

    def rows_in_district(self, rows: Sequence[int], district: str) -> set[int]:
        tagged = self.tagged.get(district, set())
        return {int(row) for row in rows if row in tagged}

    def texts(self, rows: Sequence[int]) -> dict[int, str]:
        # Whole chunks and their articles, not just texts: what ranking compares first is almost always what it
        # returns, so one round trip serves both.
        return {row: chunk.text for row, chunk in self.chunks(rows).items()}

    def chunks(self, rows: Sequence[int]) -> dict[int, Chunk]:
        """Chunks (most came with the candidates) and, in the same round trip, the articles of these rows that
        the server has not cached: ranking asks for them next."""
        rows = [int(row) for row in rows]
        missing = [row for row in rows if row not in self._chunks]
        numbers = sorted({self.article_of[r] for r in rows if r in self.article_of} - self.group.articles.keys())
        wanted: dict[int, tuple[list[int], list[int]]] = {}
        for row in missing:
            wanted.setdefault(self.layout.owner_of_row(row), ([], []))[0].append(row)
        for number in numbers:
            wanted.setdefault(self.layout.owner_of_article(number), ([], []))[1].append(number)
        if wanted:
            generation = self.layout.generation
            refs = [self.group.actors[s].fetch.remote(generation, r, n) for s, (r, n) in wanted.items()]
            for chunks, articles in self.group.gather(refs):
                self._chunks.update(chunks)
                self.group.remember_articles(articles)
        return {row: self._chunks[row] for row in rows if row in self._chunks}

    def cosines(self, rows: Sequence[int], vector: np.ndarray) -> dict[int, float]:
        found: dict[int, float] = {}
        for part in self._fan("cosines", rows, vector):
            found.update(part)  # type: ignore[call-overload]
        return found

    def article_by_number(self, number: int) -> Article:
        found = self.group.articles.get(number)
        if found is None:
            actor = self.group.actors[self.layout.owner_of_article(number)]
            found = self.group.gather([actor.fetch.remote(self.layout.generation, [], [number])])[0][1][number]
            self.group.remember_articles({number: found})
        return found


class ShardedIndex:
    """The served generation as the routes see it (`server.searcher.IndexHandle`); the texts stay on the shards."""

    def __init__(self, group: ShardGroup, layout: Layout, lease: Lease | None) -> None:
        self.group, self.layout, self._lease = group, layout, lease
        self.directory: Path = group.index_dir
        self.generation: str = layout.generation
        self.manifest: Manifest = layout.manifest

    @property
    def article_count(self) -> int:
        return self.manifest.articles

    @property
    def chunk_count(self) -> int:
        return self.manifest.chunks

    @property
    def segments(self) -> tuple[object, ...]:
        return tuple(self.manifest.segments)

    def article(self, article_id: str) -> Article | None:
        found = self.group.call("article", self.generation, article_id)
        return next((a for a in found if a is not None), None)

    def close(self) -> None:
        if self._lease is not None:
            self._lease.release()
            self._lease = None
            for actor in self.group.actors:
                actor.release.remote(self.generation)  # fire and forget: a dead shard has nothing to release


@dataclass(frozen=True)
class ShardedRetriever:
    """`server.searcher.Searcher` over the shards. `local` is a Retriever whose model, tokenizer, gazetteer and
    config the query uses; its ranking half runs here over the merged candidates."""

    local: Retriever
    group: ShardGroup
    layout: Layout

    def resolve_district(self, district: str | None) -> str | None:
        return self.local.resolve_district(district)

    def candidates(
        self,
        query: str,
        district: str | None = None,
        mode: Mode = "hybrid",
        prefetch: int = 10,
        dates: DateRange | None = None,
    ) -> tuple[Candidates, CandidateView]:
        local, layout = self.local, self.layout
        hard = local.resolve_district(district)
        tokens = tuple(local.tokenizer.tokenize(query)) if mode != "dense" else ()
        unique = sorted(set(tokens))
        # Document frequencies are fixed per generation: counted by the shards once per token, then cached here.
        missing = [t for t in unique if t not in layout.frequencies]
        counting = self.group.submit("frequencies", layout.generation, missing) if missing else []
        vector = local.embedder.embed_queries([query])[0] if mode != "bm25" else None
        if counting:
            counted = {t: [0, 0] for t in missing}
            for passages, articles in self.group.gather(counting):
                for token in missing:
                    counted[token][0] += passages[token]
                    counted[token][1] += articles[token]
            layout.remember(counted)
        passage_df = {t: layout.frequencies[t][0] for t in unique}
        article_df = {t: layout.frequencies[t][1] for t in unique}
        q = ShardQuery(
            generation=layout.generation,
            vector=vector,
            tokens=tokens,
            passage_df=passage_df,
            article_df=article_df,
            passages=layout.passages,
            articles=layout.articles,
            district=hard,
            named=local.gazetteer.find(query) if mode == "hybrid" and hard is None else (),
            sparse=mode != "dense",
            complete=mode in ("fused", "hybrid"),
            with_articles=mode in ("fused", "hybrid") and bool(local.config.article_weight),
            n=local.config.candidates,
            prefetch=prefetch,
            dates=dates.ordinals() if dates is not None else None,
        )
        results: list[ShardCandidates] = self.group.call("candidates", q)
        asked = question_time(query, local.config.today) if mode == "hybrid" else QuestionTime()
        return merge_candidates(query, q, results, mode, asked), CandidateView(self.group, layout, results)

    def search(
        self,
        query: str,
        k: int = 10,
        district: str | None = None,
        mode: Mode = "hybrid",
        dates: DateRange | None = None,
    ) -> list[Passage]:
        found, view = self.candidates(query, district, mode, prefetch=k, dates=dates)
        return replace(self.local, index=view).rank(found, k, mode)  # type: ignore[arg-type]
