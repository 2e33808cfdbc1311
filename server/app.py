"""The FastAPI application: routes, the lifespan that loads model and index once, and JSON errors for bad input.

Routes are plain `def`: retrieval and answering are CPU-bound and synchronous, so FastAPI runs them in its
threadpool and the event loop stays free to accept requests. Everything they share (index, model, retriever,
answerer) is read-only after loading.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import Scope

from indexer.settings import IndexSettings
from server.asgi import ObservedRequests
from server.docs import add_offline_docs
from server.hardening import add_inner_guards, add_outer_guards
from server.query_arrivals import QueryArrivals
from server.query_batching import QueryBatcher
from server.reload import LiveResources
from server.resources import Preloaded, Resources, load_resources, query_nprobe
from server.retrieval import UnknownDistrictError
from server.schemas import (
    ArticleOut,
    AskRequest,
    AskResponse,
    ErrorOut,
    HealthOut,
    InputLimitError,
    SearchRequest,
    SearchResponse,
    article_out,
    health,
)
from server.searcher import SearchUnavailableError
from server.service import run_ask, run_search
from server.settings import ServerSettings

logger = logging.getLogger("policyqa.server")

STATIC_DIR = Path(__file__).parent / "static"
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Malformed JSON body"},
    422: {"model": ErrorOut, "description": "Invalid input: empty or too long text, k out of range, unknown district"},
}


def _log_request(scope: Scope, status: int, seconds: float) -> None:
    """One log line per request: method, path, status, latency."""
    logger.info("%s %s %d %.1f ms", scope["method"], scope["path"], status, seconds * 1000)


def _error(status: int, error: str, detail: Any = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(ErrorOut(error=error, detail=detail).model_dump(), status_code=status, headers=headers)


def _field(loc: tuple[int | str, ...]) -> str:
    # FastAPI prefixes body fields with "body"; what the client needs is the field's own name.
    parts = [str(p) for p in loc[1:]] if loc and loc[0] == "body" else [str(p) for p in loc]
    return ".".join(parts) or "body"


def _message(error: dict[str, Any]) -> str:
    kind, field = error.get("type"), _field(tuple(error.get("loc", ())))
    if kind == "missing":
        return "a JSON object is required" if field == "body" else "is required"
    if kind == "extra_forbidden":
        return "is not a field of this request"
    if kind == "model_attributes_type":
        return "must be a JSON object"
    return str(error.get("msg", "is invalid")).removeprefix("Value error, ")


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    malformed = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if malformed is not None:
        reason = (malformed.get("ctx") or {}).get("error", "not valid JSON")
        return _error(400, f"malformed JSON body: {reason}", [{"field": "body", "message": str(reason)}])
    detail = [{"field": _field(tuple(e.get("loc", ()))), "message": _message(e)} for e in errors]
    return _error(422, "; ".join(f"{d['field']}: {d['message']}" for d in detail), detail)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    return _error(exc.status_code, str(exc.detail), None, dict(exc.headers) if exc.headers else None)


async def _unknown_district(request: Request, exc: UnknownDistrictError) -> JSONResponse:
    return _error(422, str(exc), [{"field": "district", "message": str(exc)}])


async def _limit_error(request: Request, exc: InputLimitError) -> JSONResponse:
    return _error(422, str(exc), [{"field": exc.field, "message": exc.message}])


async def _unavailable(request: Request, exc: SearchUnavailableError) -> JSONResponse:
    return _error(503, str(exc), None, {"Retry-After": "1"})


async def _bug(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return _error(500, "internal error: this is a bug in policyqa, the server log has the details")


async def get_live(request: Request) -> LiveResources:
    live: LiveResources | None = getattr(request.app.state, "live", None)
    if live is None:
        resources: Resources | None = getattr(request.app.state, "resources", None)
        if resources is None:
            raise HTTPException(503, "the index and model are still loading")
        live = request.app.state.live = LiveResources(resources)
    return live


async def get_resources(request: Request) -> AsyncIterator[Resources]:
    """The generation this request runs on, from its start to its end, whatever a reload does meanwhile.
    async: a plain function dependency costs a threadpool hop per request, and this one never blocks."""
    with (await get_live(request)).use() as resources:
        yield resources


async def get_server_settings(request: Request) -> ServerSettings:
    return request.app.state.server_settings


ResourcesDep = Annotated[Resources, Depends(get_resources)]
LiveDep = Annotated[LiveResources, Depends(get_live)]
SettingsDep = Annotated[ServerSettings, Depends(get_server_settings)]


def _warm_up(resources: Resources) -> None:
    """jieba loads its dictionary, the runtime allocates, and the short-answer parsers (cn2an) import on first use:
    pay that here, not on a user's first question (it took 0.3-1 s)."""
    started = time.perf_counter()
    question = "潼南区柠檬产业年产值多少？"
    resources.answerer.answer(question, resources.retriever.search(question, k=3))
    logger.info("warm-up question took %.0f ms", (time.perf_counter() - started) * 1000)


def create_app(
    index_settings: IndexSettings | None = None,
    server_settings: ServerSettings | None = None,
    resources: Resources | None = None,
    live: LiveResources | None = None,
    preloaded: Preloaded | None = None,
) -> FastAPI:
    """The app; `resources` injected (tests, `policyqa serve`) or loaded once in the lifespan from the settings.
    `live`, when given, serves and reloads in its own way (policyqa_ray's shards). `preloaded`: what a prefork
    server loaded before forking this worker (server.prefork)."""
    index_settings = index_settings or IndexSettings()
    server_settings = server_settings or ServerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.resources is None:
            started = time.perf_counter()
            app.state.resources = load_resources(index_settings, server_settings, preloaded=preloaded)
            logger.info("loaded index and model in %.1f s", time.perf_counter() - started)
        _warm_up(app.state.resources)
        live = app.state.live = preset or LiveResources(app.state.resources, query_nprobe(index_settings))
        if server_settings.reload_interval_s > 0:
            live.watch(server_settings.reload_interval_s)
        try:
            yield
        finally:
            live.stop()

    app = FastAPI(
        title="policyqa",
        description="Cited answers from Chinese news articles on Chongqing district policy.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    add_offline_docs(app)
    preset = live
    app.state.resources = live.current if live is not None else resources
    app.state.live = None
    app.state.server_settings = server_settings
    # Innermost, so a request the guards refuse is never announced to the query batcher.
    app.add_middleware(QueryArrivals, batcher=lambda: _batcher(app))
    add_inner_guards(app, server_settings)
    app.add_middleware(ObservedRequests, observe=_log_request)
    app.state.metrics = add_outer_guards(app, server_settings)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(UnknownDistrictError, _unknown_district)
    app.add_exception_handler(InputLimitError, _limit_error)
    app.add_exception_handler(SearchUnavailableError, _unavailable)
    app.add_exception_handler(Exception, _bug)
    _add_routes(app)
    if STATIC_DIR.is_dir():
        # For anything the page links to (it must not reach outside this server: no CDN).
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _batcher(app: FastAPI) -> QueryBatcher | None:
    resources: Resources | None = getattr(app.state, "resources", None)
    embedder = resources.embedder if resources is not None else None
    # Every generation of a server shares its embedder (server.resources.with_index): the first one's will do.
    return embedder if isinstance(embedder, QueryBatcher) else None


def _json(model: BaseModel) -> Response:
    """The response as built: it was validated when constructed, and FastAPI's response_model pass would validate
    and encode it once more (0.25 ms of a /search). The route's response_model still documents it."""
    return Response(model.model_dump_json(), media_type="application/json")


def _add_routes(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    def index_page() -> FileResponse:
        page = STATIC_DIR / "index.html"
        if not page.is_file():
            raise HTTPException(404, "the web page is not installed (server/static/index.html is missing)")
        return FileResponse(page, media_type="text/html; charset=utf-8")

    @app.get("/healthz", response_model=HealthOut, summary="Liveness, with the loaded index's size and model")
    def healthz(resources: ResourcesDep) -> HealthOut:
        return health(resources)

    @app.post(
        "/admin/reload",
        response_model=HealthOut,
        summary="Serve the newest published index generation now (the server also notices it by itself)",
    )
    def reload(live: LiveDep) -> HealthOut:
        live.reload()
        with live.use() as resources:
            return health(resources)

    @app.post("/search", response_model=SearchResponse, responses=_ERRORS, summary="Retrieve passages for a query")
    def search(body: SearchRequest, resources: ResourcesDep, settings: SettingsDep) -> Response:
        body.check_limits(settings.max_query_chars, settings.max_k)
        return _json(run_search(resources, body))

    @app.post("/ask", response_model=AskResponse, responses=_ERRORS, summary="Answer a question with cited sentences")
    def ask(body: AskRequest, resources: ResourcesDep, settings: SettingsDep, request: Request) -> Response:
        body.check_limits(settings.max_query_chars, settings.max_k)
        answered = run_ask(resources, body)
        request.app.state.metrics.record_answer(answered.abstained)
        return _json(answered)

    @app.get(
        "/articles/{article_id:path}",
        response_model=ArticleOut,
        responses={404: {"model": ErrorOut, "description": "No article with this id"}},
        summary="One article's full text; every start/end offset indexes into it",
    )
    def article(article_id: str, resources: ResourcesDep) -> ArticleOut:
        # A plain dictionary lookup: an id like ../../etc/passwd is just a key that is not there.
        found = resources.index.article(article_id)
        if found is None:
            raise HTTPException(404, f"no article with id {article_id!r}")
        return article_out(found)
