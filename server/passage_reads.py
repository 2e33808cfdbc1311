"""What one search reads from the index, read once: passage texts, whole chunks and reprint groups."""

from __future__ import annotations

from collections.abc import Sequence

from indexer.reader import IndexView
from indexer.records import Chunk


class PassageReads:
    """Passage texts (for duplicate checks) and whole chunks (for what is returned), read once per search."""

    def __init__(self, index: IndexView) -> None:
        self.index = index
        self.texts: dict[int, str] = {}
        self.chunks: dict[int, Chunk] = {}
        self._groups: dict[int, str] = {}

    def groups(self, rows: Sequence[int]) -> dict[int, str]:
        """Each row's reprint group (indexer.reprints)."""
        missing = [r for r in rows if r not in self._groups]
        if missing:
            self._groups.update(self.index.reprint_groups(missing))
        return {r: self._groups[r] for r in rows}

    def load(self, rows: Sequence[int]) -> None:
        missing = [r for r in rows if r not in self.texts and r not in self.chunks]
        if missing:
            self.texts.update(self.index.texts(missing))

    def text(self, row: int) -> str:
        if row in self.chunks:
            return self.chunks[row].text
        if row not in self.texts:
            self.load([row])
        return self.texts[row]

    def get(self, row: int) -> Chunk:
        if row not in self.chunks:
            self.chunks.update(self.index.chunks([row]))
        return self.chunks[row]

    def get_many(self, rows: Sequence[int]) -> list[Chunk]:
        missing = [r for r in rows if r not in self.chunks]
        if missing:
            self.chunks.update(self.index.chunks(missing))
        return [self.chunks[r] for r in rows]
