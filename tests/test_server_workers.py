"""`policyqa serve --workers 2`: two worker processes, each with its own model, answering over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.test_server_process import START_TIMEOUT_S, free_port, post

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.model


def test_two_workers_answer_concurrent_requests(real_index_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "policyqa.cli", "serve", "--port", str(port), "--workers", "2"]
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [*command, "--index-dir", str(real_index_dir)], cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, f"server exited early:\n{log.read_text(errors='replace')[-3000:]}"
            assert time.monotonic() < deadline, f"no /healthz after {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                    health = json.loads(response.read())
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
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
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    text = log.read_text(encoding="utf-8", errors="replace")
    assert text.count("Started server process") == 2, text[-3000:]
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
