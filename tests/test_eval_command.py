"""`policyqa eval` end to end on a tiny corpus, with an index built by the fake embedder (fast)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from eval.report import git_commit
from eval.settings import REPO_ROOT, EvalSettings
from indexer.build import build_index
from indexer.settings import IndexSettings
from policyqa.cli import build_parser
from policyqa.cmd_eval import execute
from tests.fakes import FakeEmbedder

ARTICLES = {
    "tongnan": "潼南柠檬产业\n\n潼南区研发生产出饮料、绿色食品等5大类350余种柠檬产品，年产值达75亿元。"
    "当前，潼南柠檬出口份额居中国第一。\n\n潼南快思瑞公司预计2025年实现二期投产。"
    "一、二期全部建成投产后，预计可实现年产值10亿元左右。\n",
    "jiangjin": "江津班列开行创新高\n\n西部陆海新通道江津班列开行1804列，居全市第一。"
    "江津珞璜港已组织了450余标箱来自四川的货物，占到了江津班列下行量的37%。\n\n"
    "綦江区大力发展齿轮产业，已聚集相关企业120家。齿轮产业年产值突破百亿元。\n",
}
# Questions that repeat their evidence sentence: lexical retrieval must put it first, whatever the embedder.
QUESTIONS = [
    {
        "id": "t1",
        "question": "潼南区研发生产出饮料、绿色食品等5大类350余种柠檬产品，年产值达75亿元",
        "evidence": ["年产值达75亿元。"],
        "answer": "75亿元",
        "type": "number",
        "district": "潼南区",
    },
    {
        "id": "t2",
        "question": "西部陆海新通道江津班列开行1804列，居全市第一",
        "evidence": {"jiangjin": ["江津班列开行1804列"]},
        "answer": "1804列",
        "type": "number",
        "district": "江津区",
    },
    {
        "id": "t3",
        "question": "綦江区大力发展齿轮产业，已聚集相关企业120家",
        "evidence": ["已聚集相关企业120家"],
        "answer": "120家",
        "type": "number",
        "district": "綦江区",
    },
    {
        "id": "t4",
        "question": "万州的机场有几条跑道？",
        "evidence": [],
        "answer": None,
        "type": "unanswerable",
        "district": "万州区",
    },
]
REQUIRED = {
    "dataset",
    "questions",
    "retriever",
    "recall@1",
    "recall@5",
    "recall@10",
    "mrr@10",
    "ndcg@10",
    "answer_accuracy",
    "abstention_recall",
    "false_abstention",
    "latency_ms_p50",
}
SHARES = (
    "recall@1",
    "recall@5",
    "recall@10",
    "mrr@10",
    "ndcg@10",
    "article_recall@5",
    "answer_accuracy",
    "citation_precision",
    "abstention_precision",
    "abstention_recall",
    "false_abstention",
)


ENV = {
    "POLICYQA_MODEL": "fake/bigram-hash",
    # Small chunks so the tiny corpus still gives a ranking to score.
    "POLICYQA_CHUNK_MAX_CHARS": "40",
}


@dataclass(frozen=True)
class Workspace:
    corpus: Path
    index: Path
    questions: Path
    scratch: Path  # per test: reports, cache, shared


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """Corpus, question file and index, built once for the module: evals only read the index."""
    root = tmp_path_factory.mktemp("eval-command")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in ARTICLES.items():
        (corpus / f"{name}.txt").write_text(text, encoding="utf-8")
    questions = root / "questions.jsonl"
    questions.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUESTIONS), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in ENV.items():
            patch.setenv(key, value)
        build_index([corpus], IndexSettings(index_dir=root / "index"), FakeEmbedder)
    return corpus, root / "index", questions


@pytest.fixture
def workspace(indexed: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    corpus, index, questions = indexed
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("POLICYQA_CORPUS_DIR", str(corpus))
    return Workspace(corpus, index, questions, tmp_path)


def run_eval(
    workspace: Workspace, capsys: pytest.CaptureFixture[str], *argv: str, embedder: FakeEmbedder | None = None
) -> tuple[int, str, str]:
    args = build_parser().parse_args(["eval", "--index-dir", str(workspace.index), *argv])
    scratch = workspace.scratch
    settings = EvalSettings(
        eval_reports_dir=scratch / "reports", eval_cache_dir=scratch / "cache", shared_dir=scratch / "shared"
    )
    fake = embedder or FakeEmbedder()
    code = execute(args, embedder_factory=lambda _: fake, eval_settings=settings)
    out, err = capsys.readouterr()
    return code, out, err


def last_json(out: str) -> Any:
    return json.loads(out.strip().splitlines()[-1])


def test_all_retrievers_print_a_table_a_json_line_and_write_the_report(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    before = set((REPO_ROOT / "eval").rglob("*"))
    code, out, _ = run_eval(workspace, capsys, "--dataset", str(workspace.questions), "--retriever", "all", "--json")
    assert code == 0
    summaries = last_json(out)
    assert [s["retriever"] for s in summaries] == ["bm25", "dense", "fused", "hybrid"]
    for summary in summaries:
        assert set(summary) >= REQUIRED
        assert summary["dataset"] == "questions" and summary["questions"] == 4 and summary["unanswerable"] == 1
        for key in SHARES:
            assert summary[key] is None or 0.0 <= summary[key] <= 1.0, key
        assert summary["latency_ms_p50"] > 0
        assert summary["recall@1"] <= summary["recall@5"] <= summary["recall@10"]
        assert len(summary["recall_curve"]) == 10
        assert set(summary["slices"]["district"]) == {"潼南区", "江津区", "綦江区", "万州区"}
    bm25 = summaries[0]
    assert bm25["recall@1"] == 1.0 and bm25["mrr@10"] == 1.0
    rows = [line.split()[0] for line in out.splitlines() if line.split()]
    assert {"bm25", "dense", "fused", "hybrid"} <= set(rows)
    assert any(line.startswith("report: ") for line in out.splitlines())

    reports = workspace.scratch / "reports"
    names = {p.name for p in reports.iterdir()}
    assert {"questions.md", "questions.png"} <= names
    assert any(n.startswith("questions-") and n.endswith(".md") for n in names)
    assert (reports / "questions.png").read_bytes().startswith(b"\x89PNG")
    text = (reports / "questions.md").read_text(encoding="utf-8")
    expected_lines = (
        "fake/bigram-hash",
        "'max_chars': 40",
        "- BM25: `{'title_weight': 3",
        "rrf_k",
        "git commit",
        "| hybrid |",
    )
    for expected in (*expected_lines, "questions.png"):
        assert expected in text
    assert set((REPO_ROOT / "eval").rglob("*")) == before  # nothing written into the repository


def test_one_retriever_gives_one_object_and_no_report_when_asked(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_eval(
        workspace,
        capsys,
        "--dataset",
        str(workspace.questions),
        "--retriever",
        "bm25",
        "--limit",
        "2",
        "--no-report",
        "--json",
    )
    assert code == 0
    summary = last_json(out)
    assert isinstance(summary, dict) and summary["retriever"] == "bm25" and summary["questions"] == 2
    assert not (workspace.scratch / "reports").exists()


def test_the_table_is_readable_without_json(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_eval(workspace, capsys, "--dataset", str(workspace.questions), "--no-report")
    assert code == 0
    header, rule, row = out.strip().splitlines()[1:4]
    assert header.split()[:4] == ["retriever", "n", "R@1", "R@5"]
    assert set(rule.replace(" ", "")) == {"-"}
    assert row.split()[0] == "hybrid"


def test_a_benchmark_is_indexed_once_in_the_cache(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    folder = workspace.scratch / "shared" / "benchmarks" / "ncppolicies"
    folder.mkdir(parents=True)
    docs = [
        {"doc_id": "d1", "text": "关于支持展会的通知 如年内继续在京举办的，补助金额不超过50万元。"},
        {"doc_id": "d2", "text": "关于减免房租的通知 对承租国有房屋的中小微企业，免收2月份房租。"},
    ]
    questions = [
        {"id": "q1", "question": "展会补助金额不超过多少？", "doc_id": "d1", "answer": "补助金额不超过50万元"},
        {"id": "q2", "question": "中小微企业哪个月的房租免收？", "doc_id": "d2", "answer": "免收2月份房租"},
    ]
    for name, rows in (("corpus.jsonl", docs), ("questions.jsonl", questions)):
        (folder / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    first, second = FakeEmbedder(), FakeEmbedder()
    code, out, _ = run_eval(workspace, capsys, "--dataset", "ncppolicies", "--no-report", "--json", embedder=first)
    assert code == 0 and first.embedded > 0
    assert last_json(out)["recall@10"] == 1.0
    code, out, _ = run_eval(workspace, capsys, "--dataset", "ncppolicies", "--no-report", "--json", embedder=second)
    assert code == 0 and second.embedded == 0
    assert (workspace.scratch / "cache" / "ncppolicies").is_dir()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dataset", "no-such-set"], "unknown dataset"),
        (["--k", "0"], "--k must be between 1 and 50"),
        (["--limit", "0"], "--limit must be at least 1"),
    ],
)
def test_bad_arguments_fail_with_a_message(
    workspace: Workspace, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run_eval(workspace, capsys, *argv)
    assert code == 2 and message in err and out == ""


def test_evidence_for_an_article_not_in_the_index_is_refused(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    path = workspace.scratch / "stray.jsonl"
    path.write_text(
        json.dumps({"id": "s", "question": "问", "evidence": {"missing-article": ["证据"]}}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    code, _, err = run_eval(workspace, capsys, "--dataset", str(path), "--no-report")
    assert code == 2 and "missing-article" in err


def test_evidence_that_no_article_holds_is_reported(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    path = workspace.scratch / "typo.jsonl"
    path.write_text(
        json.dumps({"id": "typo", "question": "潼南柠檬年产值？", "evidence": ["年产值达57亿元"]}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    code, out, err = run_eval(workspace, capsys, "--dataset", str(path), "--json")
    assert code == 0 and "typo" in err
    assert last_json(out)["recall@10"] == 0.0
    report = (workspace.scratch / "reports" / "typo.md").read_text("utf-8")
    assert "evidence that no indexed passage contains: typo" in report
    assert "## Misses: hybrid (1 with no hit in the top 10, 1 shown)" in report
    assert "`typo` 潼南柠檬年产值？ — evidence: 「年产值达57亿元」" in report


def test_the_recorded_commit_is_dirty_for_code_changes_but_not_for_rewritten_reports(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=tmp_path, capture_output=True, text=True, check=True).stdout

    git("init", "-q")
    (tmp_path / "eval" / "reports").mkdir(parents=True)
    (tmp_path / "eval" / "reports" / "d.md").write_text("old", encoding="utf-8")
    (tmp_path / "code.py").write_text("x = 1\n", encoding="utf-8")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    head = git("rev-parse", "--short", "HEAD").strip()
    assert git_commit(tmp_path) == head
    (tmp_path / "eval" / "reports" / "d.md").write_text("new figures", encoding="utf-8")
    assert git_commit(tmp_path) == head
    (tmp_path / "code.py").write_text("x = 2\n", encoding="utf-8")
    assert git_commit(tmp_path) == f"{head}+dirty"


def test_eval_without_matplotlib_writes_the_report_and_notes_the_missing_chart(
    workspace: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 15, item 9: matplotlib is a dev extra; the README's run set-up does not install it.
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    code, _out, err = run_eval(workspace, capsys, "--dataset", str(workspace.questions), "--retriever", "bm25")
    assert code == 0 and "matplotlib is not installed" in err
    reports = workspace.scratch / "reports"
    assert "matplotlib is not installed" in (reports / "questions.md").read_text(encoding="utf-8")
    assert not list(reports.glob("*.png"))


@pytest.mark.parametrize(
    "record",
    [
        {"evidence": {"tongnan.txt": ["年产值达75亿元。"]}},
        {"evidence": {"tongnan": ["年产值达75亿元。"]}},
        {"doc": "tongnan.txt", "evidence": ["年产值达75亿元。"]},
        {"docs": ["jiangjin", "tongnan.txt"], "evidence": ["年产值达75亿元。"]},
    ],
    ids=["evidence-file-name", "evidence-stem", "doc", "docs"],
)
def test_gold_files_may_name_articles_by_file_name(
    workspace: Workspace, capsys: pytest.CaptureFixture[str], record: dict[str, Any]
) -> None:
    path = workspace.scratch / "named.jsonl"
    question = {"id": "n1", "question": "潼南柠檬产业年产值多少？", "answer": "75亿元", "type": "number", **record}
    path.write_text(json.dumps(question, ensure_ascii=False) + "\n", encoding="utf-8")
    code, out, err = run_eval(workspace, capsys, "--dataset", str(path), "--retriever", "bm25", "--json", "--no-report")
    assert code == 0, err
    result = last_json(out)
    assert result["recall@5"] == 1.0 and result["article_recall@5"] == 1.0


def test_the_eval_reports_short_answers_and_the_abstention_curve(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_eval(workspace, capsys, "--dataset", str(workspace.questions), "--retriever", "hybrid", "--json")
    assert code == 0
    result = last_json(out)
    assert result["short_graded"] >= 1 and 0.0 <= result["short_f1"] <= 1.0
    thresholds = [point["threshold"] for point in result["abstention_curve"]]
    assert thresholds == sorted(thresholds) and thresholds[0] == 0.0
    report = next((workspace.scratch / "reports").glob("*.md")).read_text("utf-8")
    assert "## Abstention over thresholds (hybrid)" in report and "answer weights:" in report
