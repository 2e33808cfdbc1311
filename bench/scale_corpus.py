"""The scale benchmark's corpus: real originals with real-model vectors, and perturbed copies of them.

See bench/bench_scale.py for what is real and what stands in.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# Noise per copy: cosine to the original about 1 / sqrt(1 + 384 * 0.02^2) = 0.93.
NOISE = 0.02
SHARD_ARTICLES = 2_000
DIGITS = re.compile(r"\d")


class StandInEmbedder:
    """A STAND-IN for the real model where embedding time is excluded: hashed character bigrams, 384 dims."""

    MODEL = "stand-in/bigram-hash-384"

    def __init__(self) -> None:
        self.model_id, self.dim, self.dtype = self.MODEL, 384, "float32"
        self.query_prompt, self.passage_prompt = "query: ", "passage: "

    def _vector(self, text: str) -> np.ndarray:
        keys = [int.from_bytes(hashlib.blake2b((a + b).encode(), digest_size=4).digest(), "little") % self.dim
                for a, b in itertools.pairwise(text)]  # fmt: skip
        vector = np.bincount(np.asarray(keys, np.int64), minlength=self.dim).astype(np.float32) + 1e-3
        return vector / np.linalg.norm(vector)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self.embed_queries(texts)


@dataclass
class Original:
    article: object  # indexer.records.Article
    chunks: list  # indexer.records.Chunk
    tokens: list[tuple[str, ...]]
    vectors: np.ndarray


@dataclass
class Originals:
    articles: list[Original]
    district_names: list[str]
    copies_made: int = 0
    swaps: dict[int, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def passages(self) -> int:
        return sum(len(o.chunks) for o in self.articles)

    def _swaps(self, variant: int) -> list[tuple[str, str]]:
        """District names replaced by others of the same length (so offsets hold), rotated by variant."""
        if variant not in self.swaps:
            by_length: dict[int, list[str]] = {}
            for name in self.district_names:
                by_length.setdefault(len(name), []).append(name)
            pairs = []
            for names in by_length.values():
                shift = variant % len(names)
                pairs += [(a, names[(i + shift) % len(names)]) for i, a in enumerate(names) if shift]
            self.swaps[variant] = pairs
        return self.swaps[variant]

    def perturb(self, text: str, variant: int) -> str:
        text = DIGITS.sub(lambda m: str((int(m.group()) + variant) % 10), text)
        swaps = self._swaps(variant)
        if swaps:
            table = dict(swaps)
            text = re.sub("|".join(map(re.escape, table)), lambda m: table[m.group()], text)
        return text

    def fresh_article(self, i: int) -> str:
        """A markdown article for the add/remove runs: an original, perturbed beyond any copy in the corpus."""
        original = self.articles[i % len(self.articles)]
        title = self.perturb(original.article.title or "新增文章", 7_000 + i)  # type: ignore[attr-defined]
        body = self.perturb(original.article.text, 7_000 + i)  # type: ignore[attr-defined]
        return f"---\ntitle: {title} 增补{i}\n---\n\n{body}\n"


def load_originals(shared: Path) -> Originals:
    """Every passage of the real corpora at hand, with its real-model vector (embedded once, then cached)."""
    from eval.indexes import prepare_index
    from eval.loaders import load_dataset
    from eval.settings import EvalSettings
    from indexer.build import build_index
    from indexer.districts import Gazetteer, make_tokenizer
    from indexer.embedding import load_embedder
    from indexer.reader import load_index
    from indexer.settings import IndexSettings
    from indexer.sparse import SparseTokenizer, load_stopwords

    settings, eval_settings = IndexSettings(), EvalSettings(shared_dir=shared)
    loaded = []

    def embedder():
        if not loaded:
            loaded.append(load_embedder(settings))
        return loaded[0]

    index_dirs = []
    for name in ("cmrc2018-trial", "cmrc2018-dev", "ncppolicies"):
        dataset = load_dataset(name, eval_settings)
        index_dirs.append(prepare_index(dataset, settings, eval_settings, embedder)[0].index_dir)
    seed = eval_settings.eval_cache_dir / "bench-seed" / "index"
    build_index([ROOT / "corpus"], settings.model_copy(update={"index_dir": seed}), embedder)
    index_dirs.append(seed)

    gazetteer = Gazetteer.load()
    tokenizer = SparseTokenizer(gazetteer.tokenizer or make_tokenizer(gazetteer), load_stopwords())
    sparse = settings.sparse()
    originals: list[Original] = []
    for index_dir in index_dirs:
        with load_index(index_dir) as view:
            by_article: dict[str, list[tuple[int, object]]] = {}
            for row, chunk in view.iter_chunks():
                by_article.setdefault(chunk.article_id, []).append((row, chunk))
            for article in view.iter_articles():
                rows = by_article.get(article.article_id, [])
                if not rows:
                    continue
                chunks = [c for _, c in rows]
                tokens = [tuple(tokenizer.passage_tokens(article.title, c.section, c.text, sparse)) for c in chunks]
                vectors = np.stack([_vector(view, r) for r, _ in rows])
                originals.append(Original(article, chunks, tokens, vectors.astype(np.float32)))
    return Originals(originals, [n for n in gazetteer.names() if n.endswith(("区", "县"))])


def _vector(view, row: int) -> np.ndarray:
    position = int(np.searchsorted(view.bases, row, side="right") - 1)
    return np.asarray(view.segments[position].dense.vectors[row - int(view.bases[position])])


def load_queries(shared: Path, n: int) -> list[tuple[str, np.ndarray]]:
    """CMRC 2018 trial and corpus_gold questions with their real-model query vectors (cached)."""
    from eval.loaders import load_dataset
    from eval.settings import EvalSettings

    eval_settings = EvalSettings(shared_dir=shared)
    texts = [q.question for q in load_dataset("corpus_gold", eval_settings).questions]
    texts += [q.question for q in load_dataset("cmrc2018-trial", eval_settings).questions]
    texts = texts[:n]
    from indexer.encoders.select import resolve
    from indexer.settings import IndexSettings

    # Keyed by the encoder too: the queries must be embedded like the originals' passages.
    encoder = resolve(IndexSettings()).id
    key = hashlib.sha256("\n".join([encoder, *texts]).encode()).hexdigest()[:16]
    cache = eval_settings.eval_cache_dir / "bench-queries" / f"{key}.npy"
    if cache.exists():
        vectors = np.load(cache)
    else:
        from indexer.embedding import load_embedder

        vectors = load_embedder(IndexSettings()).embed_queries(texts)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, vectors)
    return list(zip(texts, vectors, strict=True))


def synthesize(originals: Originals, corpus: Path, batch: int, passages: int):
    """Copies of originals until `passages` passages: (NewArticle list, SourceRecord list, vectors)."""
    from indexer.records import Article, Chunk
    from indexer.segment_writer import NewArticle, SourceRecord

    articles, vectors, shard, sources = [], [], [], []
    made = 0

    def flush() -> None:
        if not shard:
            return
        path = corpus / f"batch{batch:02d}-{len(sources):04d}.jsonl"
        path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in shard) + "\n", "utf-8")
        stat = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        ids = tuple(row["id"] for row in shard)
        sources.append(SourceRecord(str(path.resolve()), digest, stat.st_size, stat.st_mtime_ns, ids))
        shard.clear()

    while made < passages:
        copy = originals.copies_made
        originals.copies_made += 1
        original = originals.articles[copy % len(originals.articles)]
        variant = 1 + copy // len(originals.articles)
        source = original.article
        text = originals.perturb(source.text, variant)
        title = originals.perturb(source.title, variant)
        article_id = f"c{copy:07d}"
        swaps = dict(originals._swaps(variant))
        article = Article(article_id, title, text, f"batch{batch}/{article_id}", source.source, source.date)
        chunks = tuple(
            Chunk(article_id, c.start, c.end, text[c.start : c.end], c.section,
                  tuple(swaps.get(d, d) for d in c.districts))
            for c in original.chunks
        )  # fmt: skip
        rng = np.random.default_rng(copy)
        noisy = original.vectors + NOISE * rng.standard_normal(original.vectors.shape).astype(np.float32)
        vectors.append(noisy / np.linalg.norm(noisy, axis=1, keepdims=True))
        articles.append(NewArticle("", article, chunks, tuple(original.tokens)))
        shard.append({"id": article_id, "title": title, "text": text, "source": source.source})
        made += len(chunks)
        if len(shard) >= SHARD_ARTICLES:
            flush()
    flush()
    by_id = {a: s.path for s in sources for a in s.article_ids}
    articles = [NewArticle(by_id[a.article.article_id], a.article, a.chunks, a.tokens) for a in articles]
    return articles, sources, np.concatenate(vectors).astype(np.float32)
