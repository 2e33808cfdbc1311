"""Fusion functions against hand-computed cases."""

from __future__ import annotations

import pytest

from server.fusion import convex, fuse, min_max, ranks, rrf


def test_ranks_are_one_based_by_descending_score() -> None:
    assert ranks({"a": 0.1, "b": 0.9, "c": 0.5}) == {"b": 1, "c": 2, "a": 3}


def test_min_max_scales_to_the_unit_interval() -> None:
    assert min_max({"a": 2.0, "b": 4.0, "c": 3.0}) == {"a": 0.0, "b": 1.0, "c": 0.5}
    assert min_max({"a": 7.0, "b": 7.0}) == {"a": 1.0, "b": 1.0}
    assert min_max({}) == {}


def test_rrf_adds_weighted_reciprocal_ranks() -> None:
    fused = rrf([(1.0, {"a": 9.0, "b": 1.0}), (2.0, {"b": 0.7})], k=10)
    assert fused["a"] == pytest.approx(1 / 11)
    assert fused["b"] == pytest.approx(1 / 12 + 2 / 11)


def test_convex_is_a_weighted_mean_of_normalised_scores() -> None:
    dense = {"a": 0.9, "b": 0.8, "c": 0.7}  # normalised: a 1, b 0.5, c 0
    bm25 = {"a": 0.0, "b": 20.0, "c": 10.0}  # normalised: a 0, b 1, c 0.5
    fused = convex([(1.0, dense), (3.0, bm25)])
    assert fused == pytest.approx({"a": 0.25, "b": 0.125 + 0.75, "c": 0.375})


def test_convex_keeps_the_margin_rrf_throws_away() -> None:
    # BM25 is far surer of x than dense is of y; ranks alone call it a tie, scores do not.
    dense = {"x": 0.80, "y": 0.81, "z": 0.60}
    bm25 = {"x": 30.0, "y": 3.0, "z": 2.0}
    by_rank = rrf([(1.0, dense), (1.0, bm25)], k=10)
    assert by_rank["x"] == pytest.approx(by_rank["y"])
    by_score = convex([(1.0, dense), (1.0, bm25)])
    assert by_score["x"] > by_score["y"]


def test_an_item_missing_from_a_list_scores_nothing_there() -> None:
    fused = convex([(1.0, {"a": 1.0, "b": 0.0}), (1.0, {"c": 5.0, "d": 1.0})])
    assert fused == pytest.approx({"a": 0.5, "b": 0.0, "c": 0.5, "d": 0.0})


def test_fuse_dispatches_on_the_method() -> None:
    lists = [(1.0, {"a": 2.0, "b": 1.0})]
    assert fuse("rrf", lists, rrf_k=60) == rrf(lists, 60)
    assert fuse("convex", lists, rrf_k=60) == convex(lists)
