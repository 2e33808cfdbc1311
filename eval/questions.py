"""The eval question record and the reader for the gold JSONL format (eval/datasets/corpus_gold.jsonl)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# An evidence string keyed by None may sit in any article.
Evidence = Mapping[str | None, tuple[str, ...]]


class DatasetError(ValueError):
    """A question file that cannot be read as an eval set; the message names the file and line."""


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    evidence: Evidence
    answer: str | None
    type: str
    district: str | None = None

    @property
    def answerable(self) -> bool:
        """Unanswerable questions carry no evidence; they count for abstention only, not for retrieval."""
        return any(self.evidence.values())


def _evidence(value: Any, where: str) -> dict[str | None, tuple[str, ...]]:
    if isinstance(value, list):
        items = {None: value}
    elif isinstance(value, dict):
        items = value
    else:
        raise DatasetError(f"{where}: evidence must be a list of strings or an object of article id -> list")
    evidence: dict[str | None, tuple[str, ...]] = {}
    for article, texts in items.items():
        if not isinstance(texts, list) or not all(isinstance(t, str) and t.strip() for t in texts):
            raise DatasetError(f"{where}: evidence for {article or 'any article'} must be non-empty strings")
        if texts:
            evidence[article] = tuple(texts)
    return evidence


def _keyed_by_docs(data: dict[str, Any], where: str) -> Any:
    """`doc` (one article) or `docs` (any of several) key a plain evidence list by the articles it sits in."""
    evidence = data["evidence"]
    docs = data.get("docs") if data.get("docs") is not None else data.get("doc")
    if docs is None or not isinstance(evidence, list) or not evidence:
        return evidence
    names = [docs] if isinstance(docs, str) else docs
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise DatasetError(f"{where}: doc must be an article id or file name, docs a non-empty list of them")
    return {name: list(evidence) for name in names}


def question_from_json(data: Any, where: str) -> EvalQuestion:
    if not isinstance(data, dict):
        raise DatasetError(f"{where}: expected a JSON object")
    missing = [key for key in ("id", "question", "evidence") if key not in data]
    if missing:
        raise DatasetError(f"{where}: missing field(s) {', '.join(missing)}")
    question = data["question"]
    if not isinstance(question, str) or not question.strip():
        raise DatasetError(f"{where}: question must be a non-empty string")
    answer = data.get("answer")
    if answer is not None and not isinstance(answer, str):
        raise DatasetError(f"{where}: answer must be a string or null")
    return EvalQuestion(
        id=str(data["id"]),
        question=question,
        evidence=_evidence(_keyed_by_docs(data, where), where),
        answer=answer,
        type=str(data.get("type") or "unknown"),
        district=data.get("district") or None,
    )


def load_questions_jsonl(path: Path) -> tuple[EvalQuestion, ...]:
    """Read one question per line; blank lines are allowed, anything malformed stops with its line number."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise DatasetError(f"cannot read question file {path}: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path} is not UTF-8 text") from error
    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise DatasetError(f"{where}: not valid JSON ({error.msg})") from error
        question = question_from_json(data, where)
        if question.id in seen:
            raise DatasetError(f"{where}: duplicate question id {question.id!r}")
        seen.add(question.id)
        questions.append(question)
    if not questions:
        raise DatasetError(f"{path} holds no questions")
    return tuple(questions)
