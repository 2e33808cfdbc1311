"""`policyqa index`: incremental indexing with a progress bar, or one JSON summary line."""

from __future__ import annotations

import argparse
import json
import sys

from policyqa.errors import guarded
from policyqa.progress import embedding_progress


def run(args: argparse.Namespace) -> int:
    from indexer.build import build_index, compact_index
    from indexer.embedding import load_embedder
    from indexer.settings import IndexSettings

    overrides: dict = {"index_dir": args.index_dir} if args.index_dir else {}
    if args.default_year is not None:
        overrides["default_year"] = args.default_year
    settings = IndexSettings(**overrides)
    paths = args.paths or [settings.corpus_dir]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"policyqa: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2

    progress = embedding_progress()

    def work() -> int:
        if getattr(args, "ray", None):
            from policyqa_ray.embed import index_on_cluster
            from policyqa_ray.settings import RaySettings

            chosen = {"actors": args.actors, "batch_size": args.batch_size}
            ray_settings = RaySettings(address=args.ray, **{k: v for k, v in chosen.items() if v is not None})
            report = index_on_cluster(paths, settings, ray_settings, rebuild=args.rebuild, progress=progress)
        else:
            report = build_index(
                paths, settings, lambda: load_embedder(settings), rebuild=args.rebuild, progress=progress
            )
        summary = report.as_dict()
        if args.compact:
            compaction = compact_index(settings)
            summary.update(
                generation=compaction.generation,
                segments=1 if compaction.merged else summary["segments"],
                compaction={"segments_merged": compaction.merged, "rows": compaction.rows,
                            "vector_index": compaction.vector_index, "seconds": round(compaction.seconds, 3)},
            )  # fmt: skip
        if args.json:
            print(json.dumps(summary, ensure_ascii=False))
        else:
            rate = f", {report.embedded / report.seconds:.1f} chunks/s" if report.embedded and report.seconds else ""
            print(
                f"{summary['articles']} articles, {summary['chunks']} chunks in {settings.index_dir}: "
                f"{summary['embedded']} embedded, {summary['unchanged']} unchanged, {summary['removed']} removed "
                f"({summary['seconds']:.2f} s{rate}); generation {summary['generation']}, "
                f"{summary['segments']} segment(s)"
            )
            for item in summary["skipped"]:
                print(f"skipped {item['path']}: {item['reason']}", file=sys.stderr)
        return 0

    if getattr(args, "ray", None):
        from policyqa_ray.cluster import RayUnavailableError

        return guarded(work, RayUnavailableError)
    return guarded(work)
