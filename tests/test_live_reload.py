"""Live reload, for real: `policyqa serve` keeps answering 4 clients while `policyqa index` adds and removes an
article 10 times on the index it reads. No request fails, every response comes from one whole generation, and the
article is answerable within 5 seconds of the last `policyqa index` returning."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.serving import ROOT, post, serving

pytestmark = pytest.mark.model

ARTICLE = """---
title: 黔江区蚕桑产业园扩建
date: 2024-03-02
source: 测试日报
---

黔江区蚕桑产业园完成扩建，桑园面积达到12.6万亩。

园区今年鲜茧产量预计达到8600吨，带动全区1.9万户蚕农增收。
"""
QUERY = "黔江蚕桑产业园鲜茧产量是多少"
ADDED_ID = "qianjiang_silk"


def index_run(index_dir: Path, *paths: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "policyqa.cli", "index", *map(str, paths), "--index-dir", str(index_dir), "--json"]
    out = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True, timeout=300).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_searches_run_on_one_whole_generation_while_the_index_changes(real_index_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(real_index_dir, index_dir, ignore=shutil.ignore_patterns("leases", ".lock"))
    extra = tmp_path / "extra"
    extra.mkdir()
    log = tmp_path / "serve.log"
    responses: list[tuple[str, str, bool]] = []  # (query, generation, added article among the results)
    failures: list[str] = []
    stop = threading.Event()
    clients: list[threading.Thread] = []
    with serving(index_dir, log, env={"POLICYQA_RELOAD_INTERVAL_S": "0.5"}) as served:
        base = served.base

        def client(queries: list[str]) -> None:
            while not stop.is_set():
                for query in queries:
                    try:
                        body = post(base, "/search", {"query": query, "k": 5})
                    except (urllib.error.URLError, OSError) as error:
                        failures.append(f"{query}: {error}")
                        continue
                    found = any(r["article_id"] == ADDED_ID for r in body["results"])
                    responses.append((query, body["generation"], found))
                    # Paced like people asking, not a flood: the indexer needs the cores too.
                    time.sleep(0.05)

        try:
            clients += [
                threading.Thread(target=client, args=([QUERY, q],), daemon=True)
                for q in ("潼南柠檬种植面积", "江津花椒", "綦江电解铝产能", "重庆乡村振兴")
            ]
            for thread in clients:
                thread.start()
            with_article: set[str] = set()
            without_article = {served.health["generation"]}
            article = extra / f"{ADDED_ID}.md"
            for run in range(11):  # add, remove, ... add: 11 runs, the last leaves the article in
                if run % 2 == 0:
                    article.write_text(ARTICLE, "utf-8")
                else:
                    article.unlink()
                report = index_run(index_dir, extra)
                assert report["generation"], report
                (with_article if run % 2 == 0 else without_article).add(report["generation"])
            returned = time.monotonic()
            while True:
                body = post(base, "/search", {"query": QUERY, "k": 5})
                if any(r["article_id"] == ADDED_ID for r in body["results"]):
                    fresh_after_s = time.monotonic() - returned
                    break
                assert time.monotonic() - returned < 5, "the added article was not served within 5 s"
                time.sleep(0.1)
            time.sleep(1)
        finally:
            stop.set()
            # The clients finish their last request before the server goes: a refusal after that is not a failure.
            for thread in clients:
                thread.join(timeout=60)

    assert not failures, failures[:5]
    assert len(responses) > 40
    known = with_article | without_article
    seen = {generation for _, generation, _ in responses}
    assert seen <= known and len(seen) >= 3, (seen, known)
    for query, generation, found in responses:
        if found:
            assert generation in with_article, (query, generation)
        if query == QUERY and generation in with_article:
            assert found, generation  # the article's own question finds it in every generation that holds it
    print(f"{len(responses)} responses over {len(seen)} generations; article served {fresh_after_s:.2f} s after index")
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    assert not [line for line in lines if " 500 " in line and "policyqa.server" in line]
