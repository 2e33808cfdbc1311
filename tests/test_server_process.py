"""The real thing: `policyqa serve` as a subprocess with the real model and index, checked over real HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving import ROOT, post, serving

CHECK_API = ROOT.parent / "shared" / "tools" / "check_api.py"

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def server(real_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with serving(real_index_dir, log) as served:
        yield served.base
    # Every request was logged with its status and latency, and no input produced a server error.
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    assert any("policyqa.server: POST /search 200 " in line for line in lines)
    assert not [line for line in lines if " 500 " in line and "policyqa.server" in line]


def test_server_passes_the_shared_contract_check(server: str) -> None:
    if not CHECK_API.is_file():
        pytest.skip(f"{CHECK_API} is missing (../shared is not beside the checkout)")
    result = subprocess.run(
        [sys.executable, str(CHECK_API), "--url", server], capture_output=True, text=True, timeout=600
    )
    assert "ok: 0 problem(s)" in result.stdout, result.stdout + result.stderr


def test_lemon_question_finds_the_lemon_acreage(server: str) -> None:
    results = post(server, "/search", {"query": "潼南的柠檬种植面积有多少？"})["results"]
    assert any("32万亩" in passage["text"] for passage in results[:3]), [p["text"][:40] for p in results[:3]]


def test_healthz_names_the_real_model(server: str, real_index_dir: Path) -> None:
    from indexer.reader import load_index

    with urllib.request.urlopen(server + "/healthz", timeout=10) as response:
        health = json.loads(response.read())
    with load_index(real_index_dir) as index:
        assert health == {
            "status": "ok",
            "articles": index.article_count,
            "chunks": index.chunk_count,
            "model": index.manifest.model,
            "generation": index.generation,
            "published": index.manifest.created,
            "segments": len(index.segments),
        }


def test_cli_search_prints_what_the_server_returns(server: str, real_index_dir: Path) -> None:
    """The DESIGN invariant across processes: same query, same index -> same ranking from server and CLI."""
    query = "綦江电解铝产能占全市多少？"
    served = post(server, "/search", {"query": query, "k": 5})
    command = [sys.executable, "-m", "policyqa.cli", "search", query, "-k", "5", "--json"]
    printed = subprocess.run(
        [*command, "--index-dir", str(real_index_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    from_cli = json.loads(printed.stdout)
    assert [(p["chunk_id"], p["text"]) for p in from_cli["results"]] == [
        (p["chunk_id"], p["text"]) for p in served["results"]
    ]
    assert [p["score"] for p in from_cli["results"]] == pytest.approx([p["score"] for p in served["results"]])


def test_lone_surrogate_gets_422_and_the_keep_alive_connection_goes_on(server: str) -> None:
    """Issue 15, item 1: the real HF tokenizer raised on a lone surrogate (a 500), and the next request on the
    same keep-alive connection was often reset."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(server)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    headers = {"Content-Type": "application/json"}
    try:
        for path, raw in [("/search", b'{"query": "\\ud800"}'), ("/ask", b'{"question": "\\u6f7c\\u5357\\udfff"}')]:
            connection.request("POST", path, raw, headers)
            response = connection.getresponse()
            assert response.status == 422 and b"surrogate" in response.read()
            connection.request("POST", "/ask", json.dumps({"question": "潼南的柠檬种植面积有多少？"}).encode(), headers)
            follow = connection.getresponse()
            assert follow.status == 200 and json.loads(follow.read())["answer"]
    finally:
        connection.close()
