"""When automatic compaction runs: a small settings record, apart from the merge code so settings stay light."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CompactionPolicy:
    """Merge the smallest segments once there are more than `max_segments`, and rewrite any segment in which more
    than `max_deleted_fraction` of the rows are deleted. Eight keeps per-query overhead (one search per segment)
    small while a day's few hundred articles still land as one cheap new segment."""

    max_segments: int = 8
    max_deleted_fraction: float = 0.3
