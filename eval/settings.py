"""Eval settings, read from the environment with the POLICYQA_ prefix."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


class EvalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POLICYQA_", extra="ignore")

    # External benchmarks are read from here at run time and never copied into the repo.
    shared_dir: Path = REPO_ROOT.parent / "shared"
    # Benchmark corpora and their indexes, keyed by corpus hash, model and chunker, so re-runs embed nothing.
    eval_cache_dir: Path = Path("~/.cache/policyqa/eval").expanduser()
    eval_reports_dir: Path = REPO_ROOT / "eval" / "reports"
    gold_path: Path = REPO_ROOT / "eval" / "datasets" / "corpus_gold.jsonl"
    # Synthetic district policy documents with their questions: a tuning set of many similar long documents.
    district_policies_dir: Path = REPO_ROOT / "eval" / "datasets" / "district_policies"
    # Passages handed to the answerer, as /ask does.
    answer_passages: int = 5
