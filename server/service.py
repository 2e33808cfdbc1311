"""The search and ask operations behind both the HTTP routes and `policyqa search|ask`, so they answer alike."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

from indexer.normalize import fold
from server.question_time import question_time
from server.schemas import AskRequest, AskResponse, SearchRequest, SearchResponse, ask_response, search_response
from server.time_agreement import agreeing

if TYPE_CHECKING:
    from server.resources import Resources


def run_search(resources: Resources, request: SearchRequest) -> SearchResponse:
    """Raises UnknownDistrictError for a district filter the gazetteer does not know."""
    with serving(resources):
        return _search(resources, request)


def run_ask(resources: Resources, request: AskRequest) -> AskResponse:
    """Raises UnknownDistrictError for a district filter the gazetteer does not know."""
    with serving(resources):
        return _ask(resources, request)


def serving(resources: Resources) -> AbstractContextManager[None]:
    """Counted as a request in flight, so a lone query may take every core and one among others does not."""
    return resources.machine_load.serving() if resources.machine_load is not None else nullcontext()


def _search(resources: Resources, request: SearchRequest) -> SearchResponse:
    started = time.perf_counter()
    # Matched in folded form (simplified, no invisible characters); echoed as the client wrote it.
    passages = resources.retriever.search(
        fold(request.query), k=request.k, district=request.district, dates=request.date_range()
    )
    took_ms = (time.perf_counter() - started) * 1000
    return search_response(request.query, passages, took_ms, resources.index.generation)


def _ask(resources: Resources, request: AskRequest) -> AskResponse:
    started = time.perf_counter()
    asked = fold(request.question)
    retriever = resources.retriever
    passages = retriever.search(asked, k=request.k, district=request.district, dates=request.date_range())
    # A question about 2023 is not answered from an article about another year (server.time_agreement).
    passages = agreeing(passages, question_time(asked, retriever.config.today))
    answer = resources.answerer.answer(asked, passages)
    took_ms = (time.perf_counter() - started) * 1000
    return ask_response(request.question, answer, took_ms, resources.index.generation)
