"""BM25 postings of one segment: term frequencies and document lengths, with no corpus statistics baked in.

bm25s bakes IDF and the average document length into its stored scores, so a segment scored with its own
statistics would rank differently from the same documents in one fresh index. A segment therefore keeps raw term
frequencies only (a CSC matrix, term x document, memory-mapped from disk) and `indexer.bm25` combines the live
segments' counts into corpus-wide statistics at query time.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import numpy as np

_VOCAB = "vocab.json"
_INDPTR = "indptr.npy"
_DOCS = "docs.npy"
_TFS = "tfs.npy"
_LENGTHS = "lengths.npy"


@dataclass(frozen=True)
class Postings:
    """For term t: documents `docs[indptr[t]:indptr[t+1]]` (ascending) with frequencies `tfs[...]`."""

    vocab: dict[str, int]
    indptr: np.ndarray  # int64, len(vocab) + 1
    docs: np.ndarray  # int32
    tfs: np.ndarray  # uint16 (clipped: a term repeated 65,535 times in one passage is not a passage)
    lengths: np.ndarray  # int32 token count per document

    @property
    def documents(self) -> int:
        return len(self.lengths)

    def term(self, token: str) -> tuple[np.ndarray, np.ndarray] | None:
        index = self.vocab.get(token)
        if index is None:
            return None
        start, end = int(self.indptr[index]), int(self.indptr[index + 1])
        return self.docs[start:end], self.tfs[start:end]

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]]) -> Postings:
        # array buffers, not per-document numpy arrays: a million small arrays cost more than their contents.
        vocab: dict[str, int] = {}
        terms, docs, tfs, lengths = array("q"), array("i"), array("q"), array("i")
        for doc, tokens in enumerate(token_lists):
            lengths.append(len(tokens))
            counts = Counter(tokens)
            terms.extend(vocab.setdefault(t, len(vocab)) for t in counts)
            docs.extend(repeat(doc, len(counts)))
            tfs.extend(counts.values())
        return cls.from_triplets(
            vocab,
            [np.frombuffer(terms, np.int64)],
            [np.frombuffer(docs, np.int32)],
            [np.frombuffer(tfs, np.int64)],
            np.frombuffer(lengths, np.int32),
        )

    def grouped(self, group: np.ndarray, groups: int) -> Postings:
        """Postings of groups of documents (e.g. whole articles from their passages): tfs and lengths summed."""
        term_of = np.repeat(np.arange(len(self.vocab), dtype=np.int64), np.diff(self.indptr))
        key_all = term_of * groups + group[self.docs]
        keys, inverse = np.unique(key_all, return_inverse=True)
        tf = np.bincount(inverse, weights=self.tfs.astype(np.float64), minlength=len(keys)).astype(np.int64)
        lengths = np.bincount(group, weights=self.lengths, minlength=groups).astype(np.int32)
        return Postings.from_triplets(
            dict(self.vocab), [keys // groups], [(keys % groups).astype(np.int32)], [tf], lengths
        )

    @classmethod
    def from_triplets(
        cls,
        vocab: dict[str, int],
        terms: list[np.ndarray],
        docs: list[np.ndarray],
        tfs: list[np.ndarray],
        lengths: np.ndarray,
    ) -> Postings:
        term = np.concatenate(terms) if terms else np.zeros(0, np.int64)
        doc = np.concatenate(docs) if docs else np.zeros(0, np.int32)
        tf = np.concatenate(tfs) if tfs else np.zeros(0, np.int64)
        # Stable sort by term keeps each term's documents ascending, as they were appended.
        order = np.lexsort((doc, term))
        indptr = np.zeros(len(vocab) + 1, np.int64)
        np.cumsum(np.bincount(term, minlength=len(vocab)), out=indptr[1:])
        return cls(
            vocab=vocab,
            indptr=indptr,
            docs=doc[order].astype(np.int32),
            tfs=np.minimum(tf[order], np.iinfo(np.uint16).max).astype(np.uint16),
            lengths=np.asarray(lengths, np.int32),
        )

    def triplets(self, doc_map: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """(terms, term index, new doc index, tf) with documents renumbered by `doc_map` (-1 drops a document)."""
        terms = [""] * len(self.vocab)
        for token, index in self.vocab.items():
            terms[index] = token
        term_of = np.repeat(np.arange(len(self.vocab), dtype=np.int64), np.diff(self.indptr))
        new_docs = doc_map[self.docs]
        keep = new_docs >= 0
        return terms, term_of[keep], new_docs[keep], self.tfs[keep].astype(np.int64)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        terms = [""] * len(self.vocab)
        for token, index in self.vocab.items():
            terms[index] = token
        (directory / _VOCAB).write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
        np.save(directory / _INDPTR, self.indptr)
        np.save(directory / _DOCS, self.docs)
        np.save(directory / _TFS, self.tfs)
        np.save(directory / _LENGTHS, self.lengths)

    @classmethod
    def load(cls, directory: Path) -> Postings:
        """Memory-mapped: the OS pages postings in as queries touch them, shared by every process that maps them."""
        terms = json.loads((directory / _VOCAB).read_text(encoding="utf-8"))
        return cls(
            vocab={t: i for i, t in enumerate(terms)},
            indptr=np.load(directory / _INDPTR),
            docs=_mapped(directory / _DOCS),
            tfs=_mapped(directory / _TFS),
            lengths=np.load(directory / _LENGTHS),
        )


def _mapped(path: Path) -> np.ndarray:
    # np.load refuses to memory-map an empty array file; an empty segment has empty postings.
    array = np.load(path, mmap_mode="r")
    # A plain ndarray view of the same mapped pages: slicing an np.memmap builds a memmap object per slice, a
    # third of the cost of reading one term's postings.
    return np.asarray(array) if array.size == 0 else array.view(np.ndarray)


def merge_postings(parts: Sequence[tuple[Postings, np.ndarray]]) -> Postings:
    """One postings matrix from several, each with a doc map (old doc -> new doc, -1 to drop)."""
    vocab: dict[str, int] = {}
    terms_out, docs_out, tfs_out = [], [], []
    total = 0
    for postings, doc_map in parts:
        terms, term_index, docs, tfs = postings.triplets(doc_map)
        remap = np.fromiter((vocab.setdefault(t, len(vocab)) for t in terms), np.int64, len(terms))
        terms_out.append(remap[term_index] if len(term_index) else term_index)
        docs_out.append(docs.astype(np.int32))
        tfs_out.append(tfs)
        total = max(total, int(doc_map.max(initial=-1)) + 1)
    lengths = np.zeros(total, np.int32)
    for postings, doc_map in parts:
        keep = doc_map >= 0
        lengths[doc_map[keep]] = postings.lengths[keep]
    return Postings.from_triplets(vocab, terms_out, docs_out, tfs_out, lengths)
