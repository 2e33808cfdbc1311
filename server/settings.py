"""Server, retrieval and answering settings, read from the environment with the POLICYQA_ prefix."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from server.retrieval import RetrievalConfig


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POLICYQA_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    max_query_chars: int = 500
    max_k: int = 50

    # Retrieval (chosen by measurement on CMRC 2018 trial and eval/datasets/corpus_gold.jsonl).
    rrf_k: float = 60.0
    dense_weight: float = 1.0
    sparse_weight: float = 1.0
    candidates: int = 100
    district_boost: float = 1.5
    duplicate_jaccard: float = 0.7
    reranker: str | None = None  # a sentence-transformers CrossEncoder name or path; off by default

    # Optional LLM answers through an OpenAI-compatible chat completions endpoint.
    llm_base_url: str | None = None
    llm_model: str = "default"
    llm_api_key: str | None = None
    llm_timeout_s: float = 20.0

    def retrieval(self) -> RetrievalConfig:
        return RetrievalConfig(
            rrf_k=self.rrf_k,
            dense_weight=self.dense_weight,
            sparse_weight=self.sparse_weight,
            candidates=self.candidates,
            district_boost=self.district_boost,
            duplicate_jaccard=self.duplicate_jaccard,
        )
