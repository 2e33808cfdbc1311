"""Reprints found at index time: passages that repeat an earlier passage (a news item carried by two outlets, a
block printed twice in one article) join that passage's reprint group, so results show each text once.

Each passage gets a MinHash signature of its character 4-grams (datasketch's permutations, computed for all
passages at once) and LSH band keys; the keys are stored per segment, so a run compares its new passages with every live
passage already indexed by array lookups, without loading the old signatures or texts. A colliding pair is then
verified exactly: the share of the shorter passage's 4-grams found in the other. The share, not the Jaccard
index, because two copies of a block are cut into passages at different places: a passage of one copy is mostly
inside a passage of the other, yet their Jaccard index is far lower (the 江津 block printed twice in seed article
003 scores 0.45 to 0.6 Jaccard, 0.8 and more by containment).

A passage's group is named by the chunk_id of its first-indexed member (`Chunk.reprint_of`, None for that first
one); names are stable across merges, and a group outlives the deletion of its first member.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from indexer.records import Chunk
from indexer.reprint_rows import band_collisions

if TYPE_CHECKING:
    from indexer.reader import IndexView
    from indexer.segment_writer import NewArticle

NUM_PERM = 64
# 32 bands of 2 rows: pairs at Jaccard 0.25 collide with probability 0.87, at 0.45 with 0.999. Low, because the
# test that follows is containment: a passage 70% inside one two and a half times its size is at Jaccard 0.25
# (datasketch's MinHashLSH layout for a 0.4 threshold, 16 bands of 4, missed the 江津 copies one time in three).
BANDS, BAND_ROWS = 32, 2
CONTAINMENT = 0.65  # share of the shorter passage's 4-grams in the other: above it, a reprint
MIN_CHARS = 40  # shorter passages (a heading, a dateline) repeat by nature, not as reprints
_PRIME = np.uint64(1_000_003)
_MERSENNE = np.uint64((1 << 61) - 1)  # datasketch's legacy scheme
_MAX_HASH = np.uint64((1 << 32) - 1)
_BATCH_SHINGLES = 50_000  # 50,000 x 64 permutations x 8 bytes: 25 MB at a time


@dataclass(frozen=True)
class ReprintSettings:
    num_perm: int = NUM_PERM
    bands: int = BANDS
    band_rows: int = BAND_ROWS
    containment: float = CONTAINMENT
    min_chars: int = MIN_CHARS


def shingles(text: str) -> np.ndarray:
    """Distinct character 4-grams of `text` (whitespace ignored) as 32-bit hashes, computed in numpy."""
    compact = "".join(text.split())
    codes = np.frombuffer(compact.encode("utf-32-le"), np.uint32).astype(np.uint64)
    if len(codes) < 4:
        return np.unique(codes & np.uint64(0xFFFFFFFF))
    keys = ((codes[:-3] * _PRIME + codes[1:-2]) * _PRIME + codes[2:-1]) * _PRIME + codes[3:]
    return np.unique((keys ^ (keys >> np.uint64(29))) & np.uint64(0xFFFFFFFF))


def signatures(sets: Sequence[np.ndarray], num_perm: int) -> np.ndarray:
    """MinHash signatures, (len(sets), num_perm) uint64, equal to datasketch's `MinHash(num_perm, scheme="legacy",
    hashfunc=int)` updated with each set (tests/test_reprints.py checks it), with datasketch's permutations; computed
    for many sets at once in numpy, which is 4x faster than one MinHash object per passage."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, scheme="legacy").permutations
    out = np.empty((len(sets), num_perm), np.uint64)
    begin = 0
    while begin < len(sets):
        end, size = begin, 0
        while end < len(sets) and (size < _BATCH_SHINGLES or end == begin):
            size += len(sets[end])
            end += 1
        flat = np.concatenate(sets[begin:end]).astype(np.uint64).reshape(-1, 1)
        permuted = ((flat * a + b) % _MERSENNE) & _MAX_HASH
        starts = np.cumsum([0, *(len(x) for x in sets[begin : end - 1])])
        out[begin:end] = np.minimum.reduceat(permuted, starts, axis=0)
        begin = end
    return out


def band_keys(texts: Sequence[str], settings: ReprintSettings) -> np.ndarray:
    """(len(texts), bands) uint64: each passage's LSH band keys; 0 for passages too short to be reprints."""
    bands, rows = settings.bands, settings.band_rows
    keys = np.zeros((len(texts), bands), np.uint64)
    long_enough = [i for i, t in enumerate(texts) if len("".join(t.split())) >= settings.min_chars]
    if not long_enough:
        return keys
    found = signatures([shingles(texts[i]) for i in long_enough], settings.num_perm)[:, : bands * rows]
    folded = found.reshape(len(long_enough), bands, rows)
    mixed = np.zeros((len(long_enough), bands), np.uint64)
    for r in range(rows):
        mixed = (mixed * _PRIME) ^ folded[:, :, r]
    mixed[mixed == 0] = 1  # 0 means "no key"
    # Each band's key also names the band, so equal values in two different bands never collide.
    keys[long_enough] = mixed * np.uint64(31) + np.arange(bands, dtype=np.uint64)
    return keys


def _containment(a: np.ndarray, b: np.ndarray) -> float:
    if not len(a) or not len(b):
        return 0.0
    return len(np.intersect1d(a, b, assume_unique=True)) / min(len(a), len(b))


def mark_reprints(
    view: IndexView | None, new_articles: Sequence[NewArticle], settings: ReprintSettings | None = None
) -> tuple[list[NewArticle], np.ndarray]:
    """`new_articles` with `reprint_of` set on every passage that repeats an earlier one (indexed before, or
    earlier in this run), and the band keys of their passages, one row per passage, for the new segment."""
    settings = settings or ReprintSettings()
    chunks = [c for item in new_articles for c in item.chunks]
    keys = band_keys([c.text for c in chunks], settings)
    if not chunks:
        return list(new_articles), keys
    candidates: dict[int, set[int | tuple[int, int]]] = {}  # new index -> earlier new indexes or (old row,)
    first_seen: dict[int, int] = {}
    for i, row in enumerate(keys.tolist()):
        for key in row:
            if not key:
                continue
            earlier = first_seen.setdefault(key, i)
            if earlier != i:
                candidates.setdefault(i, set()).add(earlier)
    if view is not None:
        for i, old_row in band_collisions(view, keys):
            candidates.setdefault(i, set()).add((old_row, 0))
    if not candidates:
        return list(new_articles), keys
    old_rows = sorted({c[0] for found in candidates.values() for c in found if isinstance(c, tuple)})
    old_chunks = view.chunks(old_rows) if view is not None and old_rows else {}
    sets: dict[object, np.ndarray] = {}

    def shingle_set(ref: int | tuple[int, int]) -> np.ndarray:
        if ref not in sets:
            sets[ref] = shingles(chunks[ref].text if isinstance(ref, int) else old_chunks[ref[0]].text)
        return sets[ref]

    groups: dict[int, str] = {}
    for i in sorted(candidates):
        # The first-indexed match, not the closest: a copy of a block cut differently from the original matches
        # two neighbouring passages of it, and joining the earlier one keeps the copies of the block together.
        best: Chunk | int | None = None
        for ref in sorted(candidates[i], key=lambda r: (isinstance(r, int), r)):
            other = chunks[ref] if isinstance(ref, int) else old_chunks.get(ref[0])
            if other is None or _overlapping(chunks[i], other):
                continue
            if _containment(shingle_set(i), shingle_set(ref)) >= settings.containment:
                best = other if isinstance(ref, tuple) else ref
                break
        if best is None:
            continue
        groups[i] = (groups.get(best) or chunks[best].chunk_id) if isinstance(best, int) else _group(best)
    marked: list[NewArticle] = []
    position = 0
    for item in new_articles:
        updated = []
        for chunk in item.chunks:
            group = groups.get(position)
            updated.append(replace(chunk, reprint_of=group) if group else chunk)
            position += 1
        marked.append(replace(item, chunks=tuple(updated)))
    return marked, keys


def _group(chunk: Chunk) -> str:
    return chunk.reprint_of or chunk.chunk_id


def _overlapping(a: Chunk, b: Chunk) -> bool:
    """Neighbouring passages of one article share a sentence by design (the chunker's overlap): not a reprint."""
    return a.article_id == b.article_id and a.start < b.end and b.start < a.end
