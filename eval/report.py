"""What an eval shows: a terminal table, and a Markdown report with a recall@k chart under eval/reports/."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval import metrics
from eval.questions import EvalQuestion
from eval.settings import REPO_ROOT

MISSES_SHOWN = 15
COLUMNS = (
    ("retriever", "retriever"),
    ("questions", "n"),
    ("recall@1", "R@1"),
    ("recall@5", "R@5"),
    ("recall@10", "R@10"),
    ("mrr@10", "MRR@10"),
    ("ndcg@10", "nDCG@10"),
    ("article_recall@5", "artR@5"),
    ("answer_accuracy", "ans acc"),
    ("citation_precision", "cite P"),
    ("abstention_precision", "abst P"),
    ("abstention_recall", "abst R"),
    ("false_abstention", "false abst"),
    ("short_em", "short EM"),
    ("short_f1", "short F1"),
    ("latency_ms_p50", "p50 ms"),
    ("latency_ms_p95", "p95 ms"),
)


@dataclass(frozen=True)
class RunContext:
    """Everything a reader needs to tell two reports apart: data, model, index, retrieval knobs, code version."""

    dataset: str
    source: str
    created: str
    git_commit: str
    model: str
    embed_dtype: str
    dim: int
    index_dir: str
    articles: int
    chunks: int
    chunker: Mapping[str, Any]
    retrieval: Mapping[str, Any]
    k: int
    notes: tuple[str, ...] = ()
    bm25: Mapping[str, Any] | None = None  # title weight, k1, b, as the index manifest records them


def git_commit(repo: Path = REPO_ROOT) -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        # The reports are this command's own output: rewriting them does not change what produced the figures.
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)eval/reports"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}+dirty" if dirty else head or "unknown"


def _evidence_snippet(question: EvalQuestion, width: int = 60) -> str:
    text = " / ".join(item for items in question.evidence.values() for item in items)
    text = " ".join(text.split())
    return f"「{text[:width]}…」" if len(text) > width else f"「{text}」"


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}" if value >= 10 else f"{value:.3f}"
    return str(value)


def text_table(summaries: Sequence[Mapping[str, Any]]) -> str:
    rows = [[label for _, label in COLUMNS]] + [[_cell(s.get(key)) for key, _ in COLUMNS] for s in summaries]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _slice_table(summaries: Sequence[Mapping[str, Any]], kind: str) -> list[str]:
    names = sorted({name for s in summaries for name in s["slices"][kind]})
    header = [
        kind,
        "n (answerable)",
        *(f"R@5 {s['retriever']}" for s in summaries),
        *(f"MRR@10 {s['retriever']}" for s in summaries),
        f"ans acc {summaries[-1]['retriever']}",
    ]
    rows = []
    for name in names:
        cells = [s["slices"][kind].get(name, {}) for s in summaries]
        rows.append(
            [
                name,
                f"{cells[0].get('questions')} ({cells[0].get('answerable')})",
                *(_cell(c.get("recall@5")) for c in cells),
                *(_cell(c.get("mrr@10")) for c in cells),
                _cell(cells[-1].get("answer_accuracy")),
            ]
        )
    return _markdown_table(header, rows)


def markdown(
    context: RunContext,
    summaries: Sequence[Mapping[str, Any]],
    missed: Mapping[str, Sequence[EvalQuestion]],
    chart_name: str | None,
) -> str:
    first = summaries[0]
    lines = [
        f"# policyqa eval: {context.dataset}",
        "",
        f"- created: {context.created}",
        f"- git commit: `{context.git_commit}`",
        f"- dataset: `{context.source}`, {first['questions']} questions ({first['answerable']} answerable, "
        f"{first['unanswerable']} unanswerable)",
        f"- model: `{context.model}` (dim {context.dim}, {context.embed_dtype})",
        f"- index: `{context.index_dir}`, {context.articles} articles, {context.chunks} chunks",
        f"- chunker: `{dict(context.chunker)}`",
        *([f"- BM25: `{dict(context.bm25)}`"] if context.bm25 else []),
        f"- retrieval config: `{dict(context.retrieval)}`; {max(context.k, 10)} passages per query, "
        "answers over the top 5",
        *(f"- note: {note}" for note in context.notes),
        "",
        "## Results",
        "",
        *_markdown_table(
            [label for _, label in COLUMNS], [[_cell(s.get(key)) for key, _ in COLUMNS] for s in summaries]
        ),
        "",
        "Latency is per query, measured inside the eval: p50/p95 above are retrieval alone; the whole ask path "
        "(search + answer) took p50 "
        + ", ".join(f"{_cell(s.get('ask_latency_ms_p50'))} ms ({s['retriever']})" for s in summaries)
        + ". /ask itself always retrieves in hybrid mode: the answer columns of the other retrievers show how the "
        "answerer does on their passages (bm25 passages carry no dense score).",
        "",
        f"![passage recall@k]({chart_name})" if chart_name else f"_({NO_CHART})_",
        "",
    ]
    lines += _curve_table(summaries)
    for kind in ("type", "district"):
        if any(len(s["slices"][kind]) > 1 for s in summaries):
            lines += [f"## By {kind}", "", *_slice_table(summaries, kind), ""]
    for mode, questions in missed.items():
        if questions:
            shown = questions[:MISSES_SHOWN]
            lines += [f"## Misses: {mode} ({len(questions)} with no hit in the top 10, {len(shown)} shown)", ""]
            lines += [f"- `{q.id}` {q.question} — evidence: {_evidence_snippet(q)}" for q in shown]
            lines.append("")
    definitions = (metrics.__doc__ or "").split("Definitions (also printed in every report):", 1)[-1].strip()
    lines += ["## Definitions", "", definitions, ""]
    return "\n".join(lines)


def _curve_table(summaries: Sequence[Mapping[str, Any]]) -> list[str]:
    """Abstention precision / recall / false abstention (hybrid, what /ask runs) over confidence thresholds."""
    chosen = next((s for s in summaries if s["retriever"] == "hybrid"), summaries[-1])
    curve = chosen.get("abstention_curve") or []
    if not curve:
        return []
    rows = [
        [
            _cell(c["threshold"]),
            _cell(c["abstention_precision"]),
            _cell(c["abstention_recall"]),
            _cell(c["false_abstention"]),
        ]
        for c in curve
    ]
    header = ["confidence threshold", "abst P", "abst R", "false abst"]
    return [f"## Abstention over thresholds ({chosen['retriever']})", "", *_markdown_table(header, rows), ""]


NO_CHART = "no recall chart: matplotlib is not installed (it comes with the dev extra: pip install -e '.[dev]')"


def recall_chart(summaries: Sequence[Mapping[str, Any]], title: str, path: Path) -> bool:
    """Draw the chart; False when matplotlib (a dev extra) is missing, so a plain install still gets its report."""
    try:
        import matplotlib
    except ImportError:
        return False

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=110)
    styles = ("-", "--", "-.", ":")
    markers = ("o", "s", "^", "D")
    lowest = 1.0
    for n, summary in enumerate(summaries):
        curve = summary["recall_curve"]
        lowest = min([lowest, *curve])
        # Distinct dashes and markers: retrievers that tie would otherwise hide one another.
        axes.plot(
            range(1, len(curve) + 1),
            curve,
            linestyle=styles[n % 4],
            marker=markers[n % 4],
            markersize=4,
            label=summary["retriever"],
            alpha=0.85,
        )
    depth = max(len(s["recall_curve"]) for s in summaries)
    axes.set_xticks(range(1, depth + 1))
    axes.set_xlabel("k (passages)")
    axes.set_ylabel("passage recall@k")
    axes.set_title(title)
    # The axis starts just below the lowest point so that close retrievers stay apart; the label says so.
    bottom = max(0.0, math.floor((lowest - 0.02) * 10) / 10)
    axes.set_ylim(bottom, 1.005)
    if bottom > 0:
        axes.set_ylabel(f"passage recall@k (axis from {bottom:.1f})")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return True


def write_report(
    directory: Path,
    context: RunContext,
    summaries: Sequence[Mapping[str, Any]],
    missed: Mapping[str, Sequence[EvalQuestion]],
    stamp: str,
) -> Path:
    """`<dataset>-<stamp>.md/.png`, plus `<dataset>.md/.png` as the latest copy; returns the stamped report."""
    directory.mkdir(parents=True, exist_ok=True)
    base = f"{context.dataset}-{stamp}"
    chart = directory / f"{base}.png"
    drawn = recall_chart(summaries, f"{context.dataset}: passage recall@k", chart)
    if not drawn:
        print(f"note: {NO_CHART}", file=sys.stderr)
    report = directory / f"{base}.md"
    report.write_text(markdown(context, summaries, missed, chart.name if drawn else None), encoding="utf-8")
    if drawn:
        shutil.copyfile(chart, directory / f"{context.dataset}.png")
    latest = f"{context.dataset}.png" if drawn else None
    (directory / f"{context.dataset}.md").write_text(markdown(context, summaries, missed, latest), encoding="utf-8")
    return report
