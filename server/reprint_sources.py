"""Where else a passage's text was published: the other live members of its reprint group (indexer.reprints),
one per article, listed under the passage that represents the group in a result."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from indexer.reader import IndexView
from indexer.records import Article, Chunk


@dataclass(frozen=True)
class Reprint:
    """Another article carrying a passage's text: listed under the passage, not ranked."""

    row_id: int
    chunk: Chunk
    article: Article


def reprints_of(
    index: IndexView,
    top: Sequence[int],
    groups: Mapping[int, str],
    chunk_of: Callable[[int], Chunk],
    article_of: Callable[[int], Article],
) -> dict[int, tuple[Reprint, ...]]:
    """For each row of `top` with copies in other articles: those copies. `groups`: each top row's group."""
    members = index.reprint_members(sorted({groups[row] for row in top}))
    rows = sorted({r for row in top for r in members.get(groups[row], ()) if r != row})
    if not rows:
        return {}
    numbers = index.article_numbers(rows)
    chunks = index.chunks(rows)
    found: dict[int, tuple[Reprint, ...]] = {}
    for row in top:
        own = chunk_of(row).article_id
        listed: dict[str, Reprint] = {}
        for other in members.get(groups[row], ()):
            chunk = chunks.get(other)
            if other == row or chunk is None or chunk.article_id == own or chunk.article_id in listed:
                continue
            listed[chunk.article_id] = Reprint(other, chunk, article_of(numbers[other]))
        if listed:
            found[row] = tuple(listed.values())
    return found
