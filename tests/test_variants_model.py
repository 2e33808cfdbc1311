"""Issue 15, item 7, with the real model and the real seed-corpus index: the traditional-Chinese and zero-width
variants of every corpus_gold question get the same /ask answer as the plain question for at least 95% of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.variants import traditional, variant_agreement, zero_width

pytestmark = pytest.mark.model
GOLD = Path(__file__).resolve().parents[1] / "eval" / "datasets" / "corpus_gold.jsonl"


def test_variants_spell_differently() -> None:
    assert traditional()("潼南的柠檬产业一年产值多少？") == "潼南的檸檬產業一年產值多少？"
    assert zero_width("潼南柠檬").replace("\u200b", "").replace("\u200d", "") == "潼南柠檬"


def test_traditional_and_zero_width_questions_get_the_plain_answer(real_index_dir: Path, real_embedder: object) -> None:
    from indexer.settings import IndexSettings
    from server.resources import load_resources
    from server.settings import ServerSettings

    resources = load_resources(IndexSettings(index_dir=real_index_dir), ServerSettings(), embedder=real_embedder)
    questions = [json.loads(line)["question"] for line in GOLD.read_text(encoding="utf-8").splitlines() if line]
    result = variant_agreement(resources, questions)
    # Most questions really are spelled differently in traditional characters, so the check means something.
    assert result["spelled_differently"]["traditional"] >= 0.9 * len(questions)
    for name, rate in result["same_answer_rate"].items():
        assert rate >= 0.95, (name, rate, result["differing"][name][:10])
