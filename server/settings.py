"""Server, retrieval and answering settings, read from the environment with the POLICYQA_ prefix."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from server.fusion import Fusion
from server.retrieval import RetrievalConfig


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POLICYQA_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    max_query_chars: int = 500
    max_k: int = 50
    # Torch threads while answering queries (indexing keeps POLICYQA_TORCH_THREADS). Measured on 2 cores: one
    # thread embeds a query in 18 ms p50 whatever OpenMP's wait policy; two take 14 ms busy-waiting but 26 ms
    # passive, and hundreds of ms busy-waiting once the cores are contended. One also leaves a core per request.
    query_threads: int = 1
    # ... but a query embedded while no other is, in any worker, takes this many (indexer/encoders/widening.py).
    idle_query_threads: int = 2
    # Up to this many queries that wait for the model together are embedded as one batch (1: never batch). A
    # single query never waits; see server/query_batching.py.
    query_batch: int = 8
    # ... and a batch about to run waits up to this long for queries already received by this worker but not yet
    # queued (0: never waits); a lone query never waits. See server/query_batching.py.
    query_batch_window_ms: float = 5.0
    # How often a running server checks for a newly published index generation (0: only POST /admin/reload).
    reload_interval_s: float = 1.0

    # Retrieval; the defaults are RetrievalConfig's, chosen by measurement (bench/tune_retrieval.py).
    fusion: Fusion = RetrievalConfig.fusion
    rrf_k: float = RetrievalConfig.rrf_k
    dense_weight: float = RetrievalConfig.dense_weight
    sparse_weight: float = RetrievalConfig.sparse_weight
    candidates: int = RetrievalConfig.candidates
    article_weight: float = RetrievalConfig.article_weight
    district_boost: float = RetrievalConfig.district_boost
    duplicate_jaccard: float = RetrievalConfig.duplicate_jaccard
    reranker: str | None = None  # a sentence-transformers CrossEncoder name or path; off by default

    # Hardening (issue 15). Keys: comma-separated; unset means no authentication (the default, for loopback use).
    api_keys: str | None = None
    # Host headers accepted (DNS rebinding): loopback names by default; "*" accepts any, e.g. behind a proxy.
    allowed_hosts: str = "127.0.0.1,localhost,::1"
    # Per client (API key, else address) on /search, /ask, /articles, /admin, e.g. "60/minute"; unset: no limit.
    rate_limit: str | None = None
    # JSON requests are a few kB; anything larger is refused before it is read in full, let alone parsed.
    max_body_bytes: int = 1_048_576
    request_timeout_s: float = 30.0

    def api_key_set(self) -> frozenset[str]:
        return frozenset(k.strip() for k in (self.api_keys or "").split(",") if k.strip())

    def allowed_host_list(self) -> list[str]:
        return [h.strip() for h in self.allowed_hosts.split(",") if h.strip()]

    # Optional LLM answers through an OpenAI-compatible chat completions endpoint.
    llm_base_url: str | None = None
    llm_model: str = "default"
    llm_api_key: str | None = None
    llm_timeout_s: float = 20.0

    def retrieval(self) -> RetrievalConfig:
        return RetrievalConfig(
            fusion=self.fusion,
            rrf_k=self.rrf_k,
            dense_weight=self.dense_weight,
            sparse_weight=self.sparse_weight,
            candidates=self.candidates,
            article_weight=self.article_weight,
            district_boost=self.district_boost,
            duplicate_jaccard=self.duplicate_jaccard,
        )
