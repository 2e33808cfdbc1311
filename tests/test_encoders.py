"""The compiled CPU encoders against torch fp32 on the real model and real passages, and what serving imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexer.encoders import convert
from indexer.settings import IndexSettings

ROOT = Path(__file__).resolve().parents[1]
PASSAGES = [
    "潼南区柠檬种植面积达32万亩，年产值超过40亿元，形成了从种植到精深加工的完整产业链。",
    "重庆",
    "The Chongqing municipal government released new policies in 2023.",
    "区县" * 400,  # longer than the model's 512 tokens: truncated, as sentence-transformers does
    "荣昌区围绕生猪产业，建设国家级生猪大数据中心。",
]
QUERIES = ["潼南的柠檬产业一年产值多少？", "荣昌 生猪", "a"]


@pytest.fixture(scope="module")
def torch_fp32() -> tuple[np.ndarray, np.ndarray]:
    from indexer.embedding import load_torch_embedder

    embedder = load_torch_embedder(IndexSettings(embed_dtype="float32"))
    return embedder.embed_passages(PASSAGES), embedder.embed_queries(QUERIES)


def load(encoder: str) -> Any:  # a CompiledEmbedder: its `encoder` is not part of the Embedder protocol
    from indexer.embedding import load_embedder

    return load_embedder(IndexSettings(encoder=encoder))


@pytest.mark.model
@pytest.mark.parametrize(("encoder", "floor"), [("openvino", 0.999), ("onnx", 0.97)])
def test_compiled_encoders_agree_with_torch_fp32(
    encoder: str, floor: float, torch_fp32: tuple[np.ndarray, np.ndarray]
) -> None:
    embedder = load(encoder)
    assert embedder.encoder.startswith(encoder) and embedder.dim == 384
    passages, queries = embedder.embed_passages(PASSAGES), embedder.embed_queries(QUERIES)
    assert passages.dtype == np.float32 and passages.shape == (len(PASSAGES), 384)
    # Unit length in fp32 whatever precision the graph ran in.
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-5)
    assert (passages * torch_fp32[0]).sum(axis=1).min() >= floor
    assert (queries * torch_fp32[1]).sum(axis=1).min() >= floor


@pytest.mark.model
def test_batching_sorts_pads_and_restores_the_callers_order() -> None:
    embedder = load("openvino")
    together = embedder.embed_passages(PASSAGES)
    alone = np.stack([embedder.embed_passages([text])[0] for text in PASSAGES])
    assert (together * alone).sum(axis=1).min() > 0.9999
    assert embedder.embed_passages([]).shape == (0, 384) and embedder.embed_queries([]).shape == (0, 384)
    # A query and a passage of the same text differ only by the prompt, so they are close but not equal.
    query, passage = embedder.embed_queries(["荣昌 生猪"])[0], embedder.embed_passages(["荣昌 生猪"])[0]
    assert 0.8 < float(query @ passage) < 0.9999


@pytest.mark.model
def test_the_int8_activation_group_setting_reaches_the_runtime() -> None:
    from indexer.embedding import load_embedder

    texts = [PASSAGES[0], PASSAGES[4], *QUERIES[:2]]
    vectors = {
        group: load_embedder(IndexSettings(encoder="openvino", int8_activation_group=group)).embed_passages(texts)
        for group in (0, 64)  # 0: activations kept in float
    }
    assert not np.array_equal(vectors[0], vectors[64])
    assert (vectors[0] * vectors[64]).sum(axis=1).min() > 0.999


@pytest.mark.model
def test_serving_with_a_compiled_encoder_never_imports_torch() -> None:
    load("openvino")  # converts on first use (that needs torch), so the subprocess below only loads
    script = (
        "import sys\n"
        "from indexer.embedding import load_embedder\n"
        "from indexer.settings import IndexSettings\n"
        "load_embedder(IndexSettings(encoder='openvino')).embed_queries(['潼南'])\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=300)


def test_the_cli_imports_no_runtime_for_help() -> None:
    script = (
        "import sys\n"
        "from policyqa.cli import build_parser\n"
        "build_parser()\n"
        "heavy = [m for m in ('torch', 'openvino', 'onnxruntime', 'faiss', 'tokenizers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=60)


def test_the_conversion_cache_is_keyed_by_converter_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    before = convert.cache_key("openvino")
    assert convert.cache_key("onnx") != before
    monkeypatch.setattr(convert, "_version", lambda name: "99.0" if name == "openvino" else "1.0")
    assert convert.cache_key("openvino") != before


def test_auto_picks_a_compiled_encoder_for_the_default_model_only() -> None:
    from indexer.encoders.select import resolve

    assert resolve(IndexSettings()).id == "openvino-int8"
    assert resolve(IndexSettings(embed_dtype="float32")).id == "openvino-fp32"
    assert resolve(IndexSettings(encoder="onnx")).id == "onnx-int8"
    assert resolve(IndexSettings(model="BAAI/bge-small-zh-v1.5")).backend == "torch"
    with pytest.raises(ValueError, match="POLICYQA_ENCODER=torch"):
        resolve(IndexSettings(model="BAAI/bge-small-zh-v1.5", encoder="openvino"))


def test_int8_weights_round_trip_within_half_a_step_per_row() -> None:
    from indexer.encoders.compress import quantise_rows

    rng = np.random.default_rng(0)
    # Rows of very different ranges, the case per-tensor scales handle badly.
    weight = rng.normal(size=(8, 64)).astype(np.float32) * np.logspace(-3, 1, 8, dtype=np.float32)[:, None]
    quantised, zero, scale = quantise_rows(weight)
    assert quantised.dtype == np.uint8 and zero.shape == (8, 1) and scale.shape == (8, 1)
    restored = (quantised.astype(np.float32) - zero) * scale.astype(np.float32)
    step = scale.astype(np.float32)
    assert np.all(np.abs(restored - weight) <= step * 0.51 + 1e-3 * step)


def test_a_negative_int8_activation_group_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="int8_activation_group"):
        IndexSettings(int8_activation_group=-1)
