"""How many articles of each corpus get a date, by precision (day, month, year, partial: month and day without a
year, none), read through the indexer's readers.

    .venv/bin/python bench/date_coverage.py [--shared ../shared]

Prints a table and a JSON last line; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def corpora(shared: Path, work: Path) -> dict[str, Path]:
    """Each eval corpus as the evals index it (eval.indexes writes datasets with their own corpus as JSONL)."""
    from eval.loaders import NAMED, corpus_jsonl, load_dataset
    from eval.settings import EvalSettings

    found = {"corpus (seed)": ROOT / "corpus"}
    settings = EvalSettings(shared_dir=shared)
    for name in NAMED[1:]:
        dataset = load_dataset(name, settings)
        if dataset.corpus is not None:
            path = work / f"{name}.jsonl"
            path.write_bytes(corpus_jsonl(dataset.corpus))
            found[name] = path
    return found


def coverage(path: Path) -> Counter:
    from indexer.districts import Gazetteer
    from indexer.records import Article
    from indexer.sources import read_articles

    counts: Counter = Counter()
    for item in read_articles([path], Gazetteer.load()):
        if isinstance(item, Article):
            counts[item.date_precision or "none"] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()
    found = {}
    work = Path(tempfile.mkdtemp(prefix="policyqa-dates-"))
    print(f"{'corpus':20s} {'articles':>8s} {'day':>6s} {'month':>6s} {'year':>6s} {'partial':>8s} {'none':>6s}")
    for name, path in corpora(args.shared, work).items():
        counts = coverage(path)
        found[name] = dict(counts)
        total = sum(counts.values())
        cells = " ".join(f"{counts.get(k, 0):>{w}d}" for k, w in (("day", 6), ("month", 6), ("year", 6)))
        print(f"{name:20s} {total:8d} {cells} {counts.get('partial', 0):8d} {counts.get('none', 0):6d}")
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(found, ensure_ascii=False))


if __name__ == "__main__":
    main()
