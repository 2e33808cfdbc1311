"""Fusion functions: several scored lists of the same items → one score per item.

`rrf` uses only each list's ranks; `convex` keeps score magnitudes (a weighted sum of min-max normalised scores),
so a passage BM25 is very sure about is not pulled level with one it barely prefers. Both take `(weight, scores)`
pairs, where scores map an item (a chunk row or an article id) to its raw score; missing items score nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, TypeVar

Key = TypeVar("Key", int, str)
Fusion = Literal["rrf", "convex"]
Weighted = Sequence[tuple[float, Mapping[Key, float]]]


def ranks(scores: Mapping[Key, float]) -> dict[Key, int]:
    """1-based ranks by descending score; ties keep insertion order."""
    return {item: rank for rank, item in enumerate(sorted(scores, key=lambda i: -scores[i]), start=1)}


def min_max(scores: Mapping[Key, float]) -> dict[Key, float]:
    """Scores scaled to [0, 1] within the list; a list of equal scores maps to all ones."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high <= low:
        return dict.fromkeys(scores, 1.0)
    return {item: (score - low) / (high - low) for item, score in scores.items()}


def rrf(lists: Weighted[Key], k: float) -> dict[Key, float]:
    fused: dict[Key, float] = {}
    for weight, scores in lists:
        for item, rank in ranks(scores).items():
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return fused


def convex(lists: Weighted[Key]) -> dict[Key, float]:
    """Weighted mean of min-max normalised scores (weights normalised to sum to one)."""
    total = sum(weight for weight, _ in lists) or 1.0
    fused: dict[Key, float] = {}
    for weight, scores in lists:
        for item, score in min_max(scores).items():
            fused[item] = fused.get(item, 0.0) + weight / total * score
    return fused


def fuse(method: Fusion, lists: Weighted[Key], rrf_k: float) -> dict[Key, float]:
    if method == "rrf":
        return rrf(lists, rrf_k)
    return convex(lists)
