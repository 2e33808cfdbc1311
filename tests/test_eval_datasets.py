"""Eval set readers: the gold JSONL format, the SQuAD (CMRC 2018) and ncppolicies adapters, the benchmark cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.indexes import CORPUS_FILE, cache_key, prepare_index
from eval.loaders import CorpusDoc, EvalDataset, corpus_jsonl, load_dataset, load_ncppolicies, load_squad
from eval.questions import DatasetError, load_questions_jsonl
from eval.settings import EvalSettings
from indexer.settings import IndexSettings
from tests.fakes import FakeEmbedder

SHARED = Path(__file__).resolve().parents[2] / "shared"
BENCHMARKS = SHARED / "benchmarks"


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def squad(path: Path) -> Path:
    data = {
        "version": "v1.0",
        "data": [
            {
                "id": "A1",
                "title": "潼南柠檬",
                "paragraphs": [
                    {
                        "id": "P1",
                        "context": "潼南柠檬年产值达75亿元。出口份额居全国第一。",
                        "qas": [
                            {
                                "id": "P1_Q0",
                                "question": "潼南柠檬年产值多少？",
                                "answers": [
                                    {"text": "75亿元", "answer_start": 8},
                                    {"text": "75亿元", "answer_start": 8},
                                    {"text": "达75亿元", "answer_start": 7},
                                ],
                            },
                            {
                                "id": "P1_Q1",
                                "question": "出口份额排第几？",
                                "answers": [{"text": "全国第一", "answer_start": 18}],
                            },
                        ],
                    }
                ],
            },
            {
                "id": "A2",
                "title": "江津班列",
                "paragraphs": [
                    {
                        "id": "P2",
                        "context": "江津班列开行1804列。",
                        "qas": [
                            {
                                "id": "P2_Q0",
                                "question": "开行多少列？",
                                "answers": [{"text": "1804列", "answer_start": 6}],
                            }
                        ],
                    }
                ],
            },
        ],
    }
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


class TestGoldFormat:
    def test_list_evidence_is_for_any_article_and_object_evidence_is_keyed(self, tmp_path: Path) -> None:
        path = write_jsonl(
            tmp_path / "q.jsonl",
            [
                {
                    "id": "a",
                    "question": "潼南柠檬年产值？",
                    "evidence": ["年产值达75亿元"],
                    "answer": "75亿元",
                    "type": "number",
                    "district": "潼南区",
                },
                {
                    "id": "b",
                    "question": "两篇文章都提到？",
                    "evidence": {"000": ["甲"], "003": ["乙", "丙"]},
                    "answer": None,
                    "type": "fact",
                    "district": None,
                },
                {
                    "id": "c",
                    "question": "万州机场有几条跑道？",
                    "evidence": [],
                    "answer": None,
                    "type": "unanswerable",
                    "district": "万州区",
                },
            ],
        )
        a, b, c = load_questions_jsonl(path)
        assert a.evidence == {None: ("年产值达75亿元",)} and a.answerable and a.district == "潼南区"
        assert b.evidence == {"000": ("甲",), "003": ("乙", "丙")} and b.answerable and b.answer is None
        assert not c.answerable and c.evidence == {}

    @pytest.mark.parametrize(
        ("line", "message"),
        [
            ("{not json", "not valid JSON"),
            ('{"id": "x", "question": "问题"}', r"missing field\(s\) evidence"),
            ('{"id": "x", "question": " ", "evidence": []}', "question must be"),
            ('{"id": "x", "question": "问", "evidence": "年产值"}', "evidence must be"),
            ('{"id": "x", "question": "问", "evidence": [""]}', "non-empty strings"),
            ('{"id": "x", "question": "问", "evidence": [], "answer": 5}', "answer must be"),
        ],
    )
    def test_malformed_lines_name_file_and_line(self, tmp_path: Path, line: str, message: str) -> None:
        path = tmp_path / "bad.jsonl"
        path.write_text('{"id": "ok", "question": "问", "evidence": []}\n\n' + line + "\n", encoding="utf-8")
        with pytest.raises(DatasetError, match=message) as caught:
            load_questions_jsonl(path)
        assert f"{path}:3" in str(caught.value)

    def test_duplicate_ids_and_empty_files_are_refused(self, tmp_path: Path) -> None:
        row = {"id": "x", "question": "问", "evidence": []}
        with pytest.raises(DatasetError, match="duplicate question id"):
            load_questions_jsonl(write_jsonl(tmp_path / "dup.jsonl", [row, row]))
        with pytest.raises(DatasetError, match="no questions"):
            load_questions_jsonl(write_jsonl(tmp_path / "empty.jsonl", []))

    def test_the_repository_gold_set_parses_whole(self) -> None:
        settings = EvalSettings()
        dataset = load_dataset("corpus_gold", settings)
        lines = [line for line in settings.gold_path.read_text(encoding="utf-8").splitlines() if line.strip()]
        assert len(dataset.questions) == len(lines)
        assert dataset.corpus is None  # scored against the configured corpus and index
        assert sum(q.answerable for q in dataset.questions) >= 80
        assert sum(not q.answerable for q in dataset.questions) >= 10


class TestBenchmarkAdapters:
    def test_squad_paragraphs_become_articles_and_answers_keyed_evidence(self, tmp_path: Path) -> None:
        dataset = load_squad(squad(tmp_path / "cmrc.json"), "cmrc2018-trial")
        assert [d.id for d in dataset.corpus] == ["P1", "P2"]
        assert dataset.corpus[0].title == "潼南柠檬"
        first = dataset.questions[0]
        # Repeated annotator answers collapse; distinct ones stay as alternatives.
        assert first.evidence == {"P1": ("75亿元", "达75亿元")}
        assert first.answer == "75亿元"
        assert [q.id for q in dataset.questions] == ["P1_Q0", "P1_Q1", "P2_Q0"]
        assert all(q.answerable for q in dataset.questions)

    def test_squad_of_the_wrong_shape_is_a_clear_error(self, tmp_path: Path) -> None:
        path = tmp_path / "bad.json"
        path.write_text(json.dumps({"data": [{"title": "x"}]}), encoding="utf-8")
        with pytest.raises(DatasetError, match="SQuAD format"):
            load_squad(path, "cmrc2018-trial")

    def test_ncppolicies_evidence_is_the_answer_in_its_document(self, tmp_path: Path) -> None:
        write_jsonl(
            tmp_path / "corpus.jsonl",
            [
                {"doc_id": "d1", "text": "关于支持展会的通知 补助金额不超过50万元。"},
                {"doc_id": "d2", "text": "另一份通知 内容。"},
            ],
        )
        write_jsonl(
            tmp_path / "questions.jsonl",
            [{"id": "q1", "question": "补助多少？", "doc_id": "d1", "answer": "补助金额不超过50万元。"}],
        )
        dataset = load_ncppolicies(tmp_path)
        assert [d.id for d in dataset.corpus] == ["d1", "d2"]
        (question,) = dataset.questions
        assert question.evidence == {"d1": ("补助金额不超过50万元。",)}
        assert question.answer == "补助金额不超过50万元。"

    def test_ncppolicies_question_for_a_missing_document_is_refused(self, tmp_path: Path) -> None:
        write_jsonl(tmp_path / "corpus.jsonl", [{"doc_id": "d1", "text": "文本"}])
        write_jsonl(tmp_path / "questions.jsonl", [{"id": "q1", "question": "问", "doc_id": "d9", "answer": "文"}])
        with pytest.raises(DatasetError, match="unknown doc d9"):
            load_ncppolicies(tmp_path)

    def test_unknown_names_and_missing_benchmarks_are_clear_errors(self, tmp_path: Path) -> None:
        settings = EvalSettings(shared_dir=tmp_path)
        with pytest.raises(DatasetError, match="unknown dataset"):
            load_dataset("cmrc2019", settings)
        with pytest.raises(DatasetError, match="POLICYQA_SHARED_DIR"):
            load_dataset("ncppolicies", settings)

    def test_a_path_is_a_dataset_named_by_its_stem(self, tmp_path: Path) -> None:
        path = write_jsonl(tmp_path / "mine.jsonl", [{"id": "x", "question": "问", "evidence": ["证据"]}])
        dataset = load_dataset(str(path), EvalSettings())
        assert dataset.name == "mine" and dataset.corpus is None
        assert dataset.limited(None) is dataset

    def test_a_folder_brings_its_own_corpus(self, tmp_path: Path) -> None:
        write_jsonl(tmp_path / "corpus.jsonl", [{"id": "d1", "title": "标题", "text": "潼南柠檬年产值达75亿元。"}])
        question = {"id": "q1", "question": "产值多少？", "evidence": {"d1": ["75亿元"]}, "answer": "75亿元"}
        write_jsonl(tmp_path / "questions.jsonl", [question])
        dataset = load_dataset(str(tmp_path), EvalSettings())
        assert dataset.name == tmp_path.name
        assert dataset.corpus == (CorpusDoc("d1", "标题", "潼南柠檬年产值达75亿元。"),)
        assert dataset.questions[0].evidence == {"d1": ("75亿元",)}

    def test_a_folder_with_bad_parts_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(DatasetError, match=r"needs corpus\.jsonl and questions\.jsonl"):
            load_dataset(str(tmp_path), EvalSettings())
        write_jsonl(tmp_path / "corpus.jsonl", [{"id": "d1", "text": "文本"}])
        write_jsonl(tmp_path / "questions.jsonl", [{"id": "q1", "question": "问", "evidence": {"d9": ["文"]}}])
        with pytest.raises(DatasetError, match=r"q1 names unknown document\(s\) \['d9'\]"):
            load_dataset(str(tmp_path), EvalSettings())
        write_jsonl(tmp_path / "corpus.jsonl", [{"id": "d1", "text": "文本"}, {"id": "d1", "text": "又一篇"}])
        with pytest.raises(DatasetError, match="not unique"):
            load_dataset(str(tmp_path), EvalSettings())
        write_jsonl(tmp_path / "corpus.jsonl", [{"id": "d1"}])
        with pytest.raises(DatasetError, match="needs id and text"):
            load_dataset(str(tmp_path), EvalSettings())

    def test_the_district_policies_tuning_set_is_whole_and_verbatim(self) -> None:
        dataset = load_dataset("district-policies", EvalSettings())
        texts = {d.id: d.text for d in dataset.corpus}
        answerable = [q for q in dataset.questions if q.answerable]
        near_misses = [q for q in dataset.questions if not q.answerable]
        assert len(texts) == 120 and len(answerable) == 360 and len(near_misses) >= 12
        # Near misses: the topic is in the corpus, the asked fact is not; they carry no answer.
        assert all(q.answer is None and q.id.startswith("dpn-") for q in near_misses)
        for question in answerable:
            assert question.district and question.answer
            for article, items in question.evidence.items():
                assert all(e in texts[article] for e in items), question.id
                assert any(question.answer in e for e in items), question.id


@pytest.mark.skipif(not BENCHMARKS.is_dir(), reason="../shared/benchmarks is not beside the checkout")
class TestRealBenchmarks:
    @pytest.mark.parametrize(
        ("name", "questions", "articles"),
        [("cmrc2018-trial", 1002, 256), ("cmrc2018-dev", 3219, 848), ("ncppolicies", 658, 599)],
    )
    def test_counts(self, name: str, questions: int, articles: int) -> None:
        dataset = load_dataset(name, EvalSettings(shared_dir=SHARED))
        assert len(dataset.questions) == questions
        assert len(dataset.corpus) == articles
        texts = {d.id: d.text for d in dataset.corpus}
        # Every evidence string is in the document it is keyed to: the hit rule can be satisfied.
        assert all(any(e in texts[a] for e in items) for q in dataset.questions for a, items in q.evidence.items())


class TestBenchmarkIndexCache:
    def test_key_changes_with_corpus_model_and_chunking(self) -> None:
        settings = IndexSettings(model="m1")
        assert cache_key(b"x", settings) == cache_key(b"x", IndexSettings(model="m1"))
        assert cache_key(b"x", settings) != cache_key(b"y", settings)
        assert cache_key(b"x", settings) != cache_key(b"x", IndexSettings(model="m2"))
        assert cache_key(b"x", settings) != cache_key(b"x", IndexSettings(model="m1", chunk_max_chars=100))

    def test_second_preparation_embeds_nothing(self, tmp_path: Path) -> None:
        docs = (
            CorpusDoc("P1", "潼南柠檬", "潼南柠檬年产值达75亿元。出口份额居全国第一。"),
            CorpusDoc("P2", "江津班列", "江津班列开行1804列。"),
        )
        dataset = EvalDataset("bench", tmp_path / "src", (), docs)
        index_settings = IndexSettings(model="fake/bigram-hash", index_dir=tmp_path / "unused")
        eval_settings = EvalSettings(eval_cache_dir=tmp_path / "cache")
        first, second = FakeEmbedder(), FakeEmbedder()
        settings, report = prepare_index(dataset, index_settings, eval_settings, lambda: first)
        assert report.articles == 2 and first.embedded == report.chunks > 0
        again, report_again = prepare_index(dataset, index_settings, eval_settings, lambda: second)
        assert again.index_dir == settings.index_dir
        assert second.embedded == 0 and report_again.embedded == 0
        assert settings.index_dir.parent.parent == tmp_path / "cache" / "bench"
        assert (settings.index_dir.parent / CORPUS_FILE).read_bytes() == corpus_jsonl(docs)
        assert not (tmp_path / "unused").exists()
