"""`policyqa serve --workers 2`: two forked worker processes, each with its own model, answering over real HTTP."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.serving import ROOT, free_port, post, serving

pytestmark = pytest.mark.model


def test_two_workers_answer_concurrent_requests(real_index_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with serving(real_index_dir, log, "--workers", "2") as served:
        base, health = served.base, served.health
        assert health["status"] == "ok" and health["chunks"] > 50

        questions = ["潼南的柠檬种植面积有多少？", "荣昌 生猪", "重庆 区县 发展"] * 8
        with ThreadPoolExecutor(8) as pool:
            searches = list(pool.map(lambda q: post(base, "/search", {"query": q, "k": 3}), questions))
            answers = list(pool.map(lambda q: post(base, "/ask", {"question": q}), questions[:6]))
        assert all(len(s["results"]) == 3 for s in searches)
        # Both workers load the same index and model, so they rank alike: one ranking per question.
        rankings: dict[str, set[tuple[str, ...]]] = {}
        for question, search in zip(questions, searches, strict=True):
            rankings.setdefault(question, set()).add(tuple(r["chunk_id"] for r in search["results"]))
        assert all(len(seen) == 1 for seen in rankings.values())
        assert all("answer" in a and "citations" in a for a in answers)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert text.count("Started server process") == 2, text[-3000:]
    # jieba's dictionary and the tokenizer loaded once, before the fork; each worker compiled its own model.
    assert text.count("loaded what the workers share") == 1 and text.count("loaded index and model") == 2
    assert "policyqa.server: POST /search 200" in text
    assert " 500 " not in text


def test_workers_that_could_not_load_the_index_fail_once_with_the_fix(real_index_dir: Path) -> None:
    """Checked before any worker starts: a worker failing at start-up would be restarted by uvicorn forever."""
    command = [sys.executable, "-m", "policyqa.cli", "serve", "--port", str(free_port()), "--workers", "2"]
    env = {**os.environ, "POLICYQA_ENCODER": "onnx"}  # int8 vectors are not interchangeable with the index's
    result = subprocess.run(
        [*command, "--index-dir", str(real_index_dir)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "POLICYQA_ENCODER=openvino" in result.stderr and "--rebuild" in result.stderr


def test_with_no_index_the_first_build_runs_apart_and_the_workers_then_serve_it(tmp_path: Path) -> None:
    """The build embeds in a process of its own, so no runtime thread pool exists when the supervisor forks."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for article in sorted((ROOT / "corpus").iterdir())[:2]:
        (corpus / article.name).write_bytes(article.read_bytes())
    log = tmp_path / "serve.log"
    env = {"POLICYQA_CORPUS_DIR": str(corpus)}
    with serving(tmp_path / "index", log, "--workers", "2", env=env) as served:
        assert served.health["articles"] == 2 and served.health["chunks"] > 10
        answered = [post(served.base, "/ask", {"question": "潼南的柠檬种植面积有多少？"}) for _ in range(4)]
        assert all(a["citations"] for a in answered)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "building one from" in text and "forking 2 workers" in text
    assert text.count("Started server process") == 2 and " 500 " not in text


def test_workers_that_fail_after_the_preflight_stop_the_server_instead_of_restarting(
    real_index_dir: Path, tmp_path: Path
) -> None:
    """A damaged segment passes the manifest check but fails each worker's load: gunicorn exits, no restart loop."""
    broken = tmp_path / "index"
    shutil.copytree(real_index_dir, broken)
    for store in broken.glob("segments/*/store.sqlite"):
        store.write_bytes(b"")
    command = [sys.executable, "-m", "policyqa.cli", "serve", "--port", str(free_port()), "--workers", "2"]
    result = subprocess.run(
        [*command, "--index-dir", str(broken)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    log = result.stdout + result.stderr
    assert "no such table" in log and log.count("Booting worker") == 2
