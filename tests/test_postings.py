"""Postings and tombstones: the small structures segments are made of."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from indexer.bm25 import CorpusBm25, LivePostings
from indexer.postings import Postings, merge_postings
from indexer.sparse import SparseSettings
from indexer.tombstones import read_deletes, write_deletes

DOCS = [["柠檬", "潼南", "柠檬"], [], ["花椒", "江津"], ["柠檬", "江津", "江津", "江津"]]


def test_postings_hold_term_frequencies_and_lengths(tmp_path: Path) -> None:
    postings = Postings.build(DOCS)
    assert postings.lengths.tolist() == [3, 0, 2, 4]
    docs, tfs = postings.term("柠檬")  # type: ignore[misc]
    assert docs.tolist() == [0, 3] and tfs.tolist() == [2, 1]
    assert postings.term("北京") is None
    postings.save(tmp_path / "p")
    loaded = Postings.load(tmp_path / "p")
    assert loaded.vocab == postings.vocab and loaded.term("江津")[1].tolist() == [1, 3]  # type: ignore[index]
    empty = Postings.build([])
    empty.save(tmp_path / "empty")
    assert Postings.load(tmp_path / "empty").documents == 0


def test_grouping_sums_documents_into_articles() -> None:
    grouped = Postings.build(DOCS).grouped(np.asarray([0, 0, 1, 1]), 2)
    assert grouped.lengths.tolist() == [3, 6]
    docs, tfs = grouped.term("柠檬")  # type: ignore[misc]
    assert docs.tolist() == [0, 1] and tfs.tolist() == [2, 1]
    assert grouped.term("江津")[1].tolist() == [4]  # type: ignore[index]


def test_merging_drops_and_renumbers_documents() -> None:
    first, second = Postings.build(DOCS[:2]), Postings.build(DOCS[2:])
    merged = merge_postings([(first, np.asarray([0, -1])), (second, np.asarray([1, 2]))])
    assert merged.lengths.tolist() == [3, 2, 4]
    assert merged.term("柠檬")[0].tolist() == [0, 2]  # type: ignore[index]
    assert merged.term("花椒")[0].tolist() == [1]  # type: ignore[index]


def test_deleted_documents_leave_the_statistics() -> None:
    settings = SparseSettings()
    whole = CorpusBm25([LivePostings(Postings.build([DOCS[0], DOCS[2]]))], settings)
    dead = np.asarray([False, True, False, True])
    with_tombstones = CorpusBm25([LivePostings(Postings.build(DOCS), dead)], settings)
    assert with_tombstones.documents == whole.documents == 2
    assert with_tombstones.idf("柠檬") == whole.idf("柠檬")
    scores = with_tombstones.scores(["柠檬", "江津"])[0]
    assert scores[1] == scores[3] == 0 and scores[0] == whole.scores(["柠檬", "江津"])[0][0]


def test_tombstone_files_accumulate(tmp_path: Path) -> None:
    first = write_deletes(tmp_path, "g000000002", None, [3], [1])
    second = write_deletes(tmp_path, "g000000003", first, [5, 3], [])
    mask, sources = read_deletes(tmp_path, second, 6)
    assert mask is not None and np.flatnonzero(mask).tolist() == [3, 5] and sources.tolist() == [1]
    assert read_deletes(tmp_path, first, 6)[0].sum() == 1  # type: ignore[union-attr]
    assert read_deletes(tmp_path, None, 6)[0] is None
