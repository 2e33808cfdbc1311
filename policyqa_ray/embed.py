"""Distributed indexing: the local run's scan, read, chunk and commit, with the embedding replaced by a Ray Data
pipeline over an actor pool. Each actor loads the model once; the driver gets the vectors back, writes the same
segment format and publishes under the same writer lock, so a `--ray` run and a local run are interchangeable and
incremental alike (only texts with no stored vector are sent to the cluster)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexer.build import Progress, build_index
from indexer.commit import BuildReport
from indexer.embedding import Embedder
from indexer.settings import IndexSettings
from policyqa_ray.cluster import connect, has_gpus
from policyqa_ray.settings import RaySettings


@dataclass(frozen=True)
class ClusterEmbedder:
    """The model's identity as the manifest records it; the vectors themselves are computed by the actor pool."""

    model_id: str
    dim: int
    query_prompt: str
    passage_prompt: str
    dtype: str
    encoder: str | None

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError("the cluster embedder only embeds passages, through embed_on_cluster")

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError("the cluster embedder only embeds passages, through embed_on_cluster")


def _pin_threads(threads: int) -> None:
    # Before the encoder loads: OpenMP and the runtimes read these once.
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _identity(settings: IndexSettings) -> ClusterEmbedder:
    from indexer.embedding import load_embedder

    _pin_threads(settings.torch_threads)
    embedder = load_embedder(settings)
    return ClusterEmbedder(
        embedder.model_id,
        embedder.dim,
        embedder.query_prompt,
        embedder.passage_prompt,
        str(getattr(embedder, "dtype", "float32")),
        getattr(embedder, "encoder", None),
    )


class EmbedActor:
    """One model per actor, loaded in the constructor; each call embeds one batch of passages."""

    def __init__(self, settings: IndexSettings) -> None:
        from indexer.embedding import load_embedder

        _pin_threads(settings.torch_threads)
        self.embedder = load_embedder(settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        # One row is one batch of texts, as the local run hands them to its embedder: the same texts padded
        # together give the same vectors.
        hashes, vectors = [], []
        for keys, texts in zip(batch["hashes"], batch["texts"], strict=True):
            hashes.extend(str(k) for k in keys)
            vectors.append(np.asarray(self.embedder.embed_passages([str(t) for t in texts]), np.float32))
        return {"hash": np.asarray(hashes), "vector": np.concatenate(vectors)}


@dataclass(frozen=True)
class ClusterEmbedding:
    """An `indexer.build.EmbedMissing` that runs on the cluster."""

    settings: IndexSettings
    ray_settings: RaySettings

    def actor_settings(self) -> IndexSettings:
        return self.settings.model_copy(update={"torch_threads": self.ray_settings.actor_threads})

    def load_identity(self) -> Embedder:
        ray = connect(self.ray_settings.address, self.ray_settings.namespace)
        task = ray.remote(num_cpus=self.ray_settings.actor_cpus)(_identity)
        return ray.get(task.remote(self.actor_settings()))

    def __call__(self, texts: dict[str, str], embedder: Embedder, progress: Progress | None) -> dict[str, Any]:
        if not texts:
            return {}
        ray = connect(self.ray_settings.address, self.ray_settings.namespace)
        cfg = self.ray_settings
        gpus = cfg.actor_gpus if cfg.actor_gpus >= 0 else (1.0 if has_gpus(ray) else 0.0)
        # Sorted by length and cut into batches exactly as locally (indexer.build._embed_missing): batches of
        # similar lengths pad little, and a text embedded in the same batch gets the same vector.
        order = sorted(texts, key=lambda h: len(texts[h]))
        size = cfg.batch_size
        items = [
            {"hashes": order[i : i + size], "texts": [texts[h] for h in order[i : i + size]]}
            for i in range(0, len(order), size)
        ]
        dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            EmbedActor,
            fn_constructor_kwargs={"settings": self.actor_settings()},
            batch_size=1,
            batch_format="numpy",
            concurrency=cfg.actors,
            num_cpus=cfg.actor_cpus,
            num_gpus=gpus,
        )
        vectors: dict[str, np.ndarray] = {}
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            for key, vector in zip(batch["hash"].tolist(), batch["vector"], strict=True):
                vectors[str(key)] = np.asarray(vector, np.float32)
            if progress:
                progress(len(vectors), len(order))
        missing = set(texts) - vectors.keys()
        if missing:
            raise RuntimeError(f"the cluster returned no vector for {len(missing)} passages; nothing was published")
        return vectors


def index_on_cluster(
    paths: Sequence[Path],
    settings: IndexSettings,
    ray_settings: RaySettings,
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
    identity: Embedder | None = None,
) -> BuildReport:
    """`policyqa index --ray ADDRESS`: the local indexing run with its embedding done by the cluster. The model's
    identity for the manifest comes from `identity` when the caller has the model loaded, else from one cluster
    task that loads it (the driver needs no model)."""
    embedding = ClusterEmbedding(settings, ray_settings)
    factory = embedding.load_identity if identity is None else (lambda: identity)
    return build_index(paths, settings, factory, rebuild=rebuild, progress=progress, embed=embedding)
