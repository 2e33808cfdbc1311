"""Sample articles for tests: the seed corpus, and two about districts it does not cover (城口, 石柱)."""

from __future__ import annotations

import shutil
from pathlib import Path

from indexer.build import build_index
from indexer.settings import IndexSettings
from server.resources import Resources, load_resources
from server.settings import ServerSettings
from tests.fakes import FakeEmbedder

SEED_CORPUS = Path(__file__).resolve().parents[1] / "corpus"
CHENGKOU = """---
title: 城口老腊肉走出大巴山
date: 2023-12-01
source: 测试日报
---

城口县地处大巴山腹地，山高林密。

今年以来，城口县老腊肉年产量达到1.8万吨，带动2.3万户农户增收。城口县还建成了5个山地鸡养殖基地，年出栏山地鸡120万只。
"""
SHIZHU = """---
title: 石柱黄连产业链加快延伸
date: 2023-11-20
source: 测试日报
---

石柱土家族自治县是全国最大的黄连生产基地。

石柱县黄连种植面积达到6.5万亩，年产值超过15亿元，黄连深加工企业增至12家。
"""


def sample_resources(root: Path) -> Resources:
    """A real index (FAISS, BM25, SQLite) of the seed corpus plus 城口 and 石柱, built with the fake embedder."""
    corpus = root / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    (corpus / "chengkou.md").write_text(CHENGKOU, encoding="utf-8")
    (corpus / "shizhu.md").write_text(SHIZHU, encoding="utf-8")
    settings = IndexSettings(index_dir=root / "index", model="fake/bigram-hash")
    embedder = FakeEmbedder()
    build_index([corpus], settings, lambda: embedder)
    return load_resources(settings, ServerSettings(), embedder=embedder)
