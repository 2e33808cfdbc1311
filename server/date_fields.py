"""The API's date fields: the range filter of /search and /ask, and where else a passage was published."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field

from server.time_filter import DateRange


def _text_only(value: Any) -> Any:
    # The schema says an ISO date string; pydantic alone would also take a number as a Unix timestamp.
    if value is not None and not isinstance(value, str | dt.date):
        raise ValueError(f"must be an ISO 8601 date such as 2023-01-01, not {type(value).__name__}")
    return value


OptionalDate = Annotated[dt.date | None, BeforeValidator(_text_only)]


class DateFilterFields(BaseModel):
    date_from: OptionalDate = Field(
        None,
        description="Only passages of articles dated on or after this day (ISO 8601, e.g. 2023-01-01). An article "
        'dated only by month or year ("2023-11", "2023") passes when all of that period lies within the range.',
        examples=["2023-01-01"],
    )
    date_to: OptionalDate = Field(
        None,
        description="Only passages of articles dated on or before this day (ISO 8601). A date_to before date_from "
        "is an empty range: no passages.",
        examples=["2023-12-31"],
    )
    include_undated: bool = Field(
        False,
        strict=True,
        description="With date_from or date_to: also passages of articles whose date (or its year) is unknown.",
    )

    def date_range(self) -> DateRange | None:
        if self.date_from is None and self.date_to is None:
            return None
        return DateRange(self.date_from, self.date_to, self.include_undated)


PRECISION_DESCRIPTION = (
    'How much of `date` is known: "day" (2023-11-20), "month" (2023-11), "year" (2023), or "partial" '
    "(--11-04: month and day, year unknown); null without a date."
)
DATE_DESCRIPTION = (
    "The publication date, ISO 8601 at its precision (2023-11-20, 2023-11, 2023, or --11-04 when the article "
    "gives month and day but no year), or null."
)


class ReprintOut(BaseModel):
    article_id: str = Field(description="Another article carrying the same text (a reprint).")
    title: str = Field(description="That article's title.")
    date: str | None = Field(description=DATE_DESCRIPTION)
    source: str = Field(description="The publication that article appeared in.")
    url: str | None = Field(description="That article's address, if known.")
    chunk_id: str = Field(description="The copy's passage id in that article.")
    start: int = Field(description="Start offset of the copy in that article's text.")
    end: int = Field(description="End offset of the copy in that article's text.")
