"""The date filter of /search, /ask and `policyqa search|ask`: only passages of articles dated within a range.

An article is in range when everything its date may mean lies in it: a day inside the range, a month or a year
wholly inside it (「2023年」 is in 2023-01-01..2023-12-31, not in 2023-06-01..2023-12-31). An article without a
known date (none, or a month and day without a year) is outside every filter unless `include_undated`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from indexer.date_rows import date_masks
from indexer.reader import IndexView, RowMasks


@dataclass(frozen=True)
class DateRange:
    first: dt.date | None = None
    last: dt.date | None = None
    include_undated: bool = False

    @property
    def active(self) -> bool:
        return self.first is not None or self.last is not None

    def admits(self, span: tuple[dt.date, dt.date] | None) -> bool:
        """Whether an article whose date means `span` (None: undated) passes the filter."""
        if not self.active:
            return True
        if span is None:
            return self.include_undated
        return (self.first is None or span[0] >= self.first) and (self.last is None or span[1] <= self.last)

    def ordinals(self) -> tuple[int | None, int | None, bool] | None:
        """(first day, last day, include undated) as proleptic ordinals (None: open), or None when the range
        filters nothing: what `indexer.date_rows.date_masks` takes, here or on a Ray shard."""
        if not self.active:
            return None
        first = self.first.toordinal() if self.first else None
        last = self.last.toordinal() if self.last else None
        return first, last, self.include_undated

    def masks(self, index: IndexView) -> RowMasks | None:
        """Allowed rows per segment, or None when the range filters nothing."""
        bounds = self.ordinals()
        return None if bounds is None else date_masks(index, *bounds)


def both(a: RowMasks | None, b: RowMasks | None) -> RowMasks | None:
    """Rows allowed by both filters (None: no filter)."""
    if a is None or b is None:
        return a if b is None else b
    return [x if y is None else y if x is None else np.logical_and(x, y) for x, y in zip(a, b, strict=True)]
