"""Settings of the Ray engine (env prefix POLICYQA_RAY_), owned here: the layers below never read them."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class RaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POLICYQA_RAY_", extra="ignore")

    # `ray.init` address: "auto" joins the cluster this machine belongs to, "ray://host:10001" a remote one.
    address: str = "auto"
    namespace: str = "policyqa"
    # Embedding actor pool: actors, texts per batch (64, as a local run batches them, gives the local run's
    # vectors), encoder threads per actor, GPUs per actor (-1: one per actor when the cluster has GPUs, else none).
    actors: int = 2
    batch_size: int = 64
    actor_threads: int = 1
    actor_cpus: float = 1.0
    actor_gpus: float = -1
    # Sharded serving: shard actors, the CPUs each reserves, and how long a query waits for a shard before the
    # request gets 503 (a restarting shard answers again within a few seconds).
    shards: int = 2
    shard_cpus: float = 1.0
    call_timeout_s: float = 5.0
    # ... but opening a generation waits this long: a new actor must first start (a worker process, seconds on a
    # busy machine) and then read its segments.
    open_timeout_s: float = 120.0
