"""The manifest that makes an index self-describing, and the check that refuses a mismatched one."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

# 2: adds the whole-article BM25 index. 3: immutable segments with tombstones, one manifest per generation.
# 4: article dates with their precision, reprint groups of passages and their MinHash signatures (issue 13).
FORMAT_VERSION = 4
_VERSIONED = ("policyqa", "sentence-transformers", "transformers", "torch", "faiss-cpu", "jieba", "numpy")


class IndexMismatchError(RuntimeError):
    """The index on disk was built with settings the current configuration cannot use."""


@dataclass(frozen=True)
class Manifest:
    model: str
    dim: int
    query_prompt: str
    passage_prompt: str
    embed_dtype: str
    chunker: dict[str, int | bool]
    articles: int
    chunks: int
    created: str
    # BM25 settings (title weight, k1, b); None in indexes written before they were settings.
    sparse: dict[str, float] | None = None
    format_version: int = FORMAT_VERSION
    versions: dict[str, str] = field(default_factory=dict)
    generation: int = 0
    # The segments this generation reads, oldest first: {"name": ..., "deletes": tombstone file name or null}.
    segments: list[dict[str, str | None]] = field(default_factory=list)
    # Global numbering continues from here in the next segment (row ids and article numbers are never reused).
    next_row: int = 0
    next_article: int = 0
    # The vector index policy (indexer.vector_index.VectorIndexSettings) and each segment's index type.
    vector_index: dict[str, str | int] = field(default_factory=dict)
    # The encoder that embedded the vectors (indexer/encoders/compat.py) and those whose vectors stay within
    # cosine 0.999 of its own, which may query and extend the index without re-embedding; None in older indexes.
    encoder: str | None = None
    interchangeable_encoders: list[str] | None = None

    def files(self) -> set[str]:
        """The segment directories and tombstone files this generation needs, as "segment[/file]" entries."""
        files = set()
        for ref in self.segments:
            files.add(str(ref["name"]))
            if ref.get("deletes"):
                files.add(f"{ref['name']}/{ref['deletes']}")
        return files

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """Any format version, for the indexer to decide what to do; `load` refuses other versions."""
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def load(cls, path: Path) -> Manifest:
        manifest = cls.read(path)
        if manifest.format_version != FORMAT_VERSION:
            raise IndexMismatchError(
                f"index at {path.parent.parent} has format version {manifest.format_version}, this policyqa reads "
                f"version {FORMAT_VERSION}: rebuild it with `policyqa index --rebuild --index-dir {path.parent.parent}`"
            )
        return manifest


def package_versions() -> dict[str, str]:
    versions = {}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def check_model(
    manifest: Manifest, index_dir: Path, model: str, dim: int, query_prompt: str, passage_prompt: str
) -> None:
    """Vectors from another model (or other prompts) are not comparable: fail with the fix in the message."""
    ours = (model, dim, query_prompt, passage_prompt)
    theirs = (manifest.model, manifest.dim, manifest.query_prompt, manifest.passage_prompt)
    if ours != theirs:
        raise IndexMismatchError(
            f"the index at {index_dir} was built with model {manifest.model!r} (dim {manifest.dim}, prompts "
            f"{manifest.query_prompt!r}/{manifest.passage_prompt!r}) but the configured model is {model!r} "
            f"(dim {dim}, prompts {query_prompt!r}/{passage_prompt!r}). Either set POLICYQA_MODEL={manifest.model} "
            f"or re-index with the new model: `policyqa index --rebuild --index-dir {index_dir}`"
        )
