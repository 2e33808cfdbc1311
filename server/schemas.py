"""The HTTP edge: pydantic request/response models, and converters from the internal frozen records.

Requests forbid unknown fields: a misspelt `top_k` or `districts` would otherwise be dropped silently and the
caller would get results for settings they did not ask for. The CLI builds the same models, so the terminal and
the API accept and reject exactly the same input.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from indexer.normalize import VISIBLE_CHAR_PATTERN, InvalidTextError, clean
from server.date_fields import DATE_DESCRIPTION, PRECISION_DESCRIPTION, DateFilterFields, ReprintOut
from server.time_words import article_year, with_years

if TYPE_CHECKING:
    from indexer.records import Article
    from server.answering import Answer, Citation
    from server.resources import Resources
    from server.retrieval import Passage

# The documented contract (issues 3 and 4). ServerSettings can tighten these at run time, never widen them.
MAX_QUERY_CHARS = 500
MAX_K = 50


class InputLimitError(ValueError):
    """Input that passes the schema but exceeds a limit configured in ServerSettings."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _stripped_nonempty(value: str) -> str:
    # The limit counts the string as sent, as the schema's maxLength does: 500 spaces plus 500 characters is 1000.
    if len(value) > MAX_QUERY_CHARS:
        raise ValueError(f"is {len(value)} characters long; the limit is {MAX_QUERY_CHARS}")
    try:
        # Before any tokenizer sees it: a lone surrogate made the HF tokenizer raise (a 500).
        value = clean(value).strip()
    except InvalidTextError as exc:
        raise ValueError(str(exc)) from None
    if not value:
        raise ValueError("must hold a visible character, not only whitespace or invisible characters")
    return value


def _integral(value: Any) -> Any:
    # JSON Schema's "integer" includes 4.0; booleans and strings stay errors (strict validation after this).
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _known_district(value: str | None) -> str | None:
    # A page's "all districts" choice naturally sends "": no filter rather than an unknown district.
    if value is None or value == "":
        return None
    if value not in district_forms():
        raise ValueError(f"unknown district {value!r}: use a Chongqing district or county name")
    return value


@functools.cache
def district_forms() -> tuple[str, ...]:
    """Every name the district filter accepts: the gazetteer's names and aliases, also after 重庆 or 重庆市."""
    from indexer.districts import CITY_PREFIXES, Gazetteer

    forms = Gazetteer.load(with_tokenizer=False).lookup
    return tuple([*forms, *(p + f for p in CITY_PREFIXES for f in forms)])


_DATE_DESCRIPTION = DATE_DESCRIPTION


def _text_field(what: str, example: str) -> Any:
    return Field(
        description=f"The {what} in Chinese; surrounding whitespace is stripped, then it must be 1 to "
        f"{MAX_QUERY_CHARS} characters as sent (less if POLICYQA_MAX_QUERY_CHARS says so) and hold a visible "
        "character; invisible characters (zero-width, controls) are removed, and lone surrogates are rejected.",
        examples=[example],
        # Documented here, checked after stripping by the validators below.
        json_schema_extra={"minLength": 1, "maxLength": MAX_QUERY_CHARS, "pattern": VISIBLE_CHAR_PATTERN},
    )


def _k_field(default: int, what: str) -> Any:
    # strict: JSON `true` or `"5"` for k is a client bug worth reporting, not something to coerce.
    return Field(
        default, ge=1, le=MAX_K, strict=True, description=f"How many passages {what}, 1 to {MAX_K} (4.0 is 4)."
    )


KInt = Annotated[int, BeforeValidator(_integral)]


_DISTRICT_DESCRIPTION = (
    'Only passages tagged with this district (hard filter), e.g. 潼南 or 潼南区. null or "" means no filter; '
    "any other value must be one of the Chongqing gazetteer's names or aliases listed here (422 otherwise)."
)


def _district_field() -> Any:
    return Field(
        None,
        description=_DISTRICT_DESCRIPTION,
        examples=["潼南区"],
        json_schema_extra=lambda schema: _district_enum(schema),
    )


def _district_enum(schema: dict[str, Any]) -> None:
    # The generated schema is anyOf[string, null]; the string branch gets the enum the validator checks.
    for branch in schema.get("anyOf", []):
        if branch.get("type") == "string":
            branch["enum"] = ["", *district_forms()]


class _Request(DateFilterFields):
    model_config = ConfigDict(extra="forbid", str_strict=True)

    @field_validator("district", check_fields=False)
    @classmethod
    def _district(cls, value: str | None) -> str | None:
        return _known_district(value)

    def _check(self, field: str, text: str, k: int, max_chars: int, max_k: int) -> None:
        if len(text) > max_chars:
            raise InputLimitError(field, f"is {len(text)} characters long; the limit is {max_chars}")
        if k > max_k:
            raise InputLimitError("k", f"is {k}, over the limit of {max_k}")


class SearchRequest(_Request):
    query: str = _text_field("search text", "潼南的柠檬种植面积有多少？")
    k: KInt = _k_field(10, "to return")
    district: str | None = _district_field()

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        return _stripped_nonempty(value)

    def check_limits(self, max_chars: int, max_k: int) -> None:
        """Apply the run-time limits from ServerSettings on top of the schema's fixed ones."""
        self._check("query", self.query, self.k, max_chars, max_k)


class AskRequest(_Request):
    question: str = _text_field("question", "潼南的柠檬产业一年产值多少？")
    k: KInt = _k_field(5, "to read the answer from")
    district: str | None = _district_field()

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        return _stripped_nonempty(value)

    def check_limits(self, max_chars: int, max_k: int) -> None:
        """Apply the run-time limits from ServerSettings on top of the schema's fixed ones."""
        self._check("question", self.question, self.k, max_chars, max_k)


class PassageOut(BaseModel):
    rank: int = Field(description="1 for the best passage.")
    score: float = Field(description="The fused retrieval score (higher is better; comparable within one response).")
    chunk_id: str = Field(description="Stable passage id: `<article_id>:<start>-<end>`.")
    article_id: str = Field(description="The article the passage is from; fetch it at /articles/{article_id}.")
    title: str = Field(description="The article's title.")
    date: str | None = Field(description=_DATE_DESCRIPTION)
    date_precision: str | None = Field(description=PRECISION_DESCRIPTION)
    source: str = Field(description="The publication the article appeared in.")
    districts: list[str] = Field(description="Canonical names of the districts the passage is about.")
    section: str | None = Field(description="The heading of the article section holding the passage, if any.")
    text: str = Field(description="The passage, verbatim: equal to the article's text[start:end].")
    start: int = Field(description="Start offset (characters, inclusive) into the article's text.")
    end: int = Field(description="End offset (characters, exclusive) into the article's text.")
    reprints: list[ReprintOut] = Field(
        description="Other articles carrying the same text (reprints found at indexing): shown once, listed here."
    )


class SearchResponse(BaseModel):
    query: str = Field(description="The query as searched (whitespace stripped).")
    took_ms: float = Field(description="Server-side retrieval time in milliseconds.")
    generation: str = Field(description="The index generation that answered (one per response, never a mix).")
    results: list[PassageOut] = Field(description="Passages, best first; at most k.")


class CitationOut(BaseModel):
    n: int = Field(description="The marker number: the answer cites this sentence as [n].")
    article_id: str = Field(description="The article holding the cited sentence.")
    title: str = Field(description="The article's title.")
    date: str | None = Field(description=_DATE_DESCRIPTION)
    date_precision: str | None = Field(description=PRECISION_DESCRIPTION)
    source: str = Field(description="The publication the article appeared in.")
    text: str = Field(description="The cited sentence, verbatim: equal to the article's text[start:end].")
    shown_text: str = Field(
        description="The sentence for display: 今年/去年/明年 followed by the year they mean in its article "
        "(「今年（2023年）」) when the article's year is known; otherwise equal to `text`."
    )
    start: int = Field(description="Start offset (characters, inclusive) into the article's text.")
    end: int = Field(description="End offset (characters, exclusive) into the article's text.")
    score: float = Field(description="How well the sentence answers the question (higher is better).")


class ShortValueOut(BaseModel):
    amount: float | None = Field(
        default=None, description="The number, Chinese numerals and 万/亿 read: 四亿 is 400000000."
    )
    unit: str | None = Field(default=None, description="The measure word the amount carries (元, 亩, 家, %).")
    approximate: str | None = Field(
        default=None, description='"more than" for 多/余 (4亿多元), "about" for 来; absent when the amount is exact.'
    )
    date: str | None = Field(default=None, description="A date as YYYY, YYYY-MM or YYYY-MM-DD (---- for no year).")


class ShortAnswerOut(BaseModel):
    text: str = Field(description="The answer itself, e.g. 75亿元: verbatim, equal to the article's text[start:end].")
    article_id: str = Field(description="The article holding it.")
    start: int = Field(description="Start offset (characters, inclusive) into the article's text.")
    end: int = Field(description="End offset (characters, exclusive) into the article's text.")
    citation: int = Field(description="The [n] of the cited sentence that holds the span.")
    type: str = Field(description="quantity, money, date, place, organisation, list, or span (an open what/who).")
    value: ShortValueOut | None = Field(description="The normalised value, for amounts and dates; null otherwise.")


class AskResponse(BaseModel):
    question: str = Field(description="The question as answered (whitespace stripped).")
    short_answer: ShortAnswerOut | None = Field(
        default=None,
        description="The asked amount, date, place, organisation or list itself, inside the sentence of citation "
        "`citation`; null when no span of the asked kind fits (the cited sentences are the answer then).",
    )
    answer: str | None = Field(description="The answer with [n] citation markers, or null when the service abstains.")
    abstained: bool = Field(description="True exactly when `answer` is null: the articles hold no good answer.")
    message: str | None = Field(description="Why there is no answer (when abstained), for display to the user.")
    citations: list[CitationOut] = Field(description="One entry per [n] marker in the answer.")
    passages: list[PassageOut] = Field(description="The passages read, best first (related reading on abstention).")
    took_ms: float = Field(description="Server-side retrieval plus answering time in milliseconds.")
    generation: str = Field(description="The index generation that answered (one per response, never a mix).")


class ArticleOut(BaseModel):
    article_id: str = Field(description="The article's id.")
    title: str = Field(description="The article's title.")
    date: str | None = Field(description=_DATE_DESCRIPTION)
    date_precision: str | None = Field(description=PRECISION_DESCRIPTION)
    source: str = Field(description="The publication the article appeared in.")
    districts: list[str] = Field(description="Canonical names of the districts the article mentions.")
    text: str = Field(description="The full cleaned text; every start/end offset in the API indexes into it.")


class HealthOut(BaseModel):
    status: str = Field(description='"ok" once the model and index are loaded.')
    articles: int = Field(description="Articles in the loaded index.")
    chunks: int = Field(description="Passages in the loaded index.")
    model: str = Field(description="The embedding model's id.")
    generation: str = Field(description="The index generation being served (changes when a re-index is published).")
    published: str = Field(description="When that generation was published (ISO 8601).")
    segments: int = Field(description="Index segments in that generation.")


class ErrorOut(BaseModel):
    error: str = Field(description="What is wrong, in one readable line.")
    detail: Any = Field(default=None, description="Structured detail, e.g. one entry per invalid field.")


def passage_out(passage: Passage) -> PassageOut:
    chunk, article = passage.chunk, passage.article
    return PassageOut(
        rank=passage.rank,
        score=float(passage.score),
        chunk_id=chunk.chunk_id,
        article_id=article.article_id,
        title=article.title,
        date=article.date,
        date_precision=article.date_precision,
        source=article.source,
        districts=list(chunk.districts),
        section=chunk.section,
        text=chunk.text,
        start=chunk.start,
        end=chunk.end,
        reprints=[
            ReprintOut(
                article_id=r.article.article_id, title=r.article.title, date=r.article.date, source=r.article.source,
                url=r.article.url, chunk_id=r.chunk.chunk_id, start=r.chunk.start, end=r.chunk.end,
            )
            for r in passage.reprints
        ],
    )  # fmt: skip


def citation_out(citation: Citation) -> CitationOut:
    article = citation.article
    return CitationOut(
        n=citation.n,
        article_id=article.article_id,
        title=article.title,
        date=article.date,
        date_precision=article.date_precision,
        source=article.source,
        text=citation.text,
        shown_text=with_years(citation.text, article_year(article)),
        start=citation.start,
        end=citation.end,
        score=float(citation.score),
    )


def search_response(query: str, passages: list[Passage], took_ms: float, generation: str) -> SearchResponse:
    return SearchResponse(
        query=query, took_ms=round(took_ms, 3), generation=generation, results=[passage_out(p) for p in passages]
    )


def short_answer_out(answer: Answer) -> ShortAnswerOut | None:
    short, n = answer.short, answer.short_citation
    cited = next((c for c in answer.citations if c.n == n), None)
    if short is None or cited is None:
        return None
    return ShortAnswerOut(
        text=short.text,
        article_id=cited.article.article_id,
        start=short.start,
        end=short.end,
        citation=cited.n,
        type=short.type,
        value=ShortValueOut(**short.value) if short.value else None,
    )


def ask_response(question: str, answer: Answer, took_ms: float, generation: str) -> AskResponse:
    citations = [citation_out(c) for c in answer.citations]
    shown = answer.text
    for c in citations:
        # 今年 in a cited sentence is shown with its article's year, in the answer as in the citation.
        shown = shown.replace(c.text, c.shown_text) if shown and c.shown_text != c.text else shown
    return AskResponse(
        generation=generation,
        question=question,
        short_answer=short_answer_out(answer),
        answer=shown,
        # Derived from `answer`, not copied from the Answer, so the contract (abstained iff null) holds by construction.
        abstained=answer.text is None,
        message=answer.message,
        citations=citations,
        passages=[passage_out(p) for p in answer.passages],
        took_ms=round(took_ms, 3),
    )


def article_out(article: Article) -> ArticleOut:
    return ArticleOut(
        article_id=article.article_id,
        title=article.title,
        date=article.date,
        date_precision=article.date_precision,
        source=article.source,
        districts=list(article.districts),
        text=article.text,
    )


def health(resources: Resources) -> HealthOut:
    index = resources.index
    return HealthOut(
        status="ok",
        articles=index.article_count,
        chunks=index.chunk_count,
        model=resources.embedder.model_id,
        generation=index.generation,
        published=index.manifest.created,
        segments=len(index.segments),
    )
