"""Eval sets by name: the gold file over `corpus/`, any JSONL in that format, and the external benchmarks.

CMRC 2018 (SQuAD format): each paragraph is an article (id = the paragraph id), each question's evidence is its
answer texts, keyed by that paragraph (alternatives: any one counts). ncppolicies: each document is an article
(id = doc_id), each question's evidence is its `answer` span, keyed by its doc_id. Both are read from the shared
folder at run time; their corpora are written to the eval cache as JSONL (id, title, text) for the indexer.

A folder with `corpus.jsonl` (id, title, text) and `questions.jsonl` (the gold format) is a dataset with its own
corpus: `district-policies`, the synthetic policy-document tuning set in eval/datasets/, is one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.questions import DatasetError, EvalQuestion, load_questions_jsonl
from eval.settings import EvalSettings

BENCHMARKS = ("cmrc2018-trial", "cmrc2018-dev", "ncppolicies")
NAMED = ("corpus_gold", "district-policies", *BENCHMARKS)
FOLDER_FILES = ("corpus.jsonl", "questions.jsonl")


@dataclass(frozen=True)
class CorpusDoc:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class EvalDataset:
    """A question set and where its articles come from: the configured corpus, or its own corpus (benchmarks)."""

    name: str
    source: Path
    questions: tuple[EvalQuestion, ...]
    corpus: tuple[CorpusDoc, ...] | None = None  # None: the configured corpus and index

    def limited(self, limit: int | None) -> EvalDataset:
        if limit is None:
            return self
        return EvalDataset(self.name, self.source, self.questions[:limit], self.corpus)


def corpus_jsonl(docs: tuple[CorpusDoc, ...]) -> bytes:
    lines = (json.dumps({"id": d.id, "title": d.title, "text": d.text}, ensure_ascii=False) for d in docs)
    return ("\n".join(lines) + "\n").encode("utf-8")


def _not_found(path: Path) -> DatasetError:
    return DatasetError(f"benchmark file not found: {path} (set POLICYQA_SHARED_DIR to the shared folder)")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise _not_found(path) from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path} is not valid UTF-8 JSON: {error}") from error


def _read_jsonl(path: Path) -> list[Any]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as error:
        raise _not_found(path) from error
    try:
        return [json.loads(line) for line in lines if line.strip()]
    except json.JSONDecodeError as error:
        raise DatasetError(f"{path} holds a line that is not JSON: {error}") from error


def load_squad(path: Path, name: str) -> EvalDataset:
    """A SQuAD-format file: every paragraph becomes an article, every question is keyed to its paragraph."""
    data = _read_json(path)
    docs: list[CorpusDoc] = []
    questions: list[EvalQuestion] = []
    try:
        for entry in data["data"]:
            title = str(entry.get("title") or "")
            for number, paragraph in enumerate(entry["paragraphs"]):
                doc_id = str(paragraph.get("id") or f"{entry.get('id', len(docs))}-{number}")
                docs.append(CorpusDoc(doc_id, title, paragraph["context"]))
                for qa in paragraph["qas"]:
                    texts = tuple(dict.fromkeys(a["text"] for a in qa["answers"] if a["text"].strip()))
                    questions.append(
                        EvalQuestion(
                            id=str(qa["id"]),
                            question=qa["question"],
                            evidence={doc_id: texts} if texts else {},
                            answer=texts[0] if texts else None,
                            type="span",
                        )
                    )
    except (KeyError, TypeError, AttributeError) as error:
        raise DatasetError(f"{path} is not in SQuAD format (data → paragraphs → qas): missing {error}") from error
    return EvalDataset(name, path, tuple(questions), tuple(docs))


def load_ncppolicies(folder: Path, name: str = "ncppolicies") -> EvalDataset:
    docs: list[CorpusDoc] = []
    questions: list[EvalQuestion] = []
    try:
        for row in _read_jsonl(folder / "corpus.jsonl"):
            # No title field: the indexer takes the headline the text opens with, as for any untitled document.
            docs.append(CorpusDoc(str(row["doc_id"]), "", row["text"]))
        known = {d.id for d in docs}
        for row in _read_jsonl(folder / "questions.jsonl"):
            doc_id = str(row["doc_id"])
            if doc_id not in known:
                raise DatasetError(f"{folder / 'questions.jsonl'}: question {row['id']} names unknown doc {doc_id}")
            answer = row["answer"]
            questions.append(EvalQuestion(str(row["id"]), row["question"], {doc_id: (answer,)}, answer, "policy"))
    except (KeyError, TypeError) as error:
        raise DatasetError(f"{folder} is not in ncppolicies format: missing {error}") from error
    return EvalDataset(name, folder, tuple(questions), tuple(docs))


def load_corpus_folder(folder: Path, name: str) -> EvalDataset:
    """A folder holding its own corpus (`corpus.jsonl`: id, title, text) and questions in the gold format, whose
    evidence names the corpus ids it sits in."""
    corpus_path, questions_path = (folder / f for f in FOLDER_FILES)
    docs: list[CorpusDoc] = []
    try:
        for row in _read_jsonl(corpus_path):
            docs.append(CorpusDoc(str(row["id"]), str(row.get("title") or ""), row["text"]))
    except (KeyError, TypeError, AttributeError) as error:
        raise DatasetError(f"{corpus_path}: every line needs id and text: missing {error}") from error
    known = {d.id for d in docs}
    if len(known) != len(docs):
        raise DatasetError(f"{corpus_path}: document ids are not unique")
    questions = load_questions_jsonl(questions_path)
    for question in questions:
        unknown = sorted(str(a) for a in question.evidence if a not in known)
        if unknown:
            raise DatasetError(f"{questions_path}: question {question.id} names unknown document(s) {unknown}")
    return EvalDataset(name, folder, questions, tuple(docs))


def load_dataset(name: str, settings: EvalSettings) -> EvalDataset:
    """A dataset name from NAMED, or a path to a JSONL question file over the configured corpus."""
    benchmarks = settings.shared_dir / "benchmarks"
    if name == "corpus_gold":
        return EvalDataset(name, settings.gold_path, load_questions_jsonl(settings.gold_path))
    if name in ("cmrc2018-trial", "cmrc2018-dev"):
        split = name.removeprefix("cmrc2018-")
        return load_squad(benchmarks / "cmrc2018" / f"cmrc2018_{split}.json", name)
    if name == "ncppolicies":
        return load_ncppolicies(benchmarks / "ncppolicies", name)
    if name == "district-policies":
        return load_corpus_folder(settings.district_policies_dir, name)
    path = Path(name)
    if path.is_dir():
        if not all((path / f).is_file() for f in FOLDER_FILES):
            raise DatasetError(f"dataset folder {path} needs {' and '.join(FOLDER_FILES)}")
        return load_corpus_folder(path, path.name)
    if not path.is_file():
        raise DatasetError(
            f"unknown dataset {name!r}: use one of {', '.join(NAMED)}, a JSONL question file, or a folder with "
            f"{' and '.join(FOLDER_FILES)}"
        )
    return EvalDataset(path.stem, path, load_questions_jsonl(path))
