"""Assemble what answering needs — index, model, retriever, answerer — once; shared by server, CLI and evals."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from indexer.districts import Gazetteer, make_tokenizer
from indexer.embedding import Embedder, load_embedder, pin_torch_threads, prepare_embedder
from indexer.encoders.compat import check_encoder
from indexer.encoders.machine_load import MachineLoad
from indexer.encoders.select import PreparedGraph
from indexer.manifest import check_model
from indexer.reader import IndexView
from indexer.settings import IndexSettings
from indexer.sparse import SparseTokenizer, load_stopwords
from server.answer_model import SentenceScorer
from server.answering import Answerer
from server.query_batching import QueryBatcher
from server.retrieval import Retriever
from server.settings import ServerSettings


@dataclass(frozen=True)
class Resources:
    """Everything a request needs, over one index generation (see server.reload for swapping generations)."""

    index: IndexView
    embedder: Embedder
    gazetteer: Gazetteer
    retriever: Retriever
    answerer: Answerer
    # Requests in flight on the machine: run_search/run_ask count theirs, the query runner reads it.
    machine_load: MachineLoad | None = None


def load_resources(
    index_settings: IndexSettings,
    server_settings: ServerSettings,
    embedder: Embedder | None = None,
    answer_model: SentenceScorer | None = None,
    preloaded: Preloaded | None = None,
) -> Resources:
    """Load the index and the model once. A mismatched index fails here, with the fix in the message.
    `preloaded`: what was loaded before this worker process forked (see `preload`)."""
    index = IndexView.open(index_settings.index_dir, nprobe=query_nprobe(index_settings))
    model_settings = index_settings.model_copy(update={"idle_query_threads": server_settings.idle_query_threads})
    # Record locks belong to the process, so two MachineLoads in one would undo each other's: an injected embedder
    # (tests, evals, the first build's) keeps whatever its query runner was built with, and requests go uncounted.
    machine_load = MachineLoad() if embedder is None else None
    if preloaded is not None:
        gazetteer, tokenizer = preloaded.gazetteer, preloaded.tokenizer
        embedder = embedder or load_embedder(model_settings, preloaded.graph, machine_load)
    else:
        with ThreadPoolExecutor(1) as pool:
            # jieba's dictionary (0.6 s) loads while the runtime compiles the model, which runs without the GIL.
            words = pool.submit(_load_words)
            embedder = embedder or load_embedder(model_settings, load=machine_load)
            gazetteer, tokenizer = words.result()
    pin_torch_threads(server_settings.query_threads)
    check_model(
        index.manifest,
        index_settings.index_dir,
        embedder.model_id,
        embedder.dim,
        embedder.query_prompt,
        embedder.passage_prompt,
    )
    check_encoder(index.manifest, index_settings.index_dir, getattr(embedder, "encoder", None))
    if server_settings.query_batch > 1:
        embedder = QueryBatcher(embedder, server_settings.query_batch, server_settings.query_batch_window_ms / 1000)
    reranker = None
    if server_settings.reranker:
        from server.rerank import CrossEncoderReranker

        reranker = CrossEncoderReranker.load(server_settings.reranker)
    retriever = Retriever.create(index, embedder, tokenizer, gazetteer, server_settings.retrieval(), reranker)
    llm = None
    if server_settings.llm_base_url:
        from server.llm import LlmClient

        llm = LlmClient(
            server_settings.llm_base_url,
            server_settings.llm_model,
            server_settings.llm_api_key,
            server_settings.llm_timeout_s,
        )
    answerer = Answerer.create(embedder=embedder, gazetteer=gazetteer, llm=llm, model=answer_model)
    return Resources(index, embedder, gazetteer, retriever, answerer, machine_load)


@dataclass(frozen=True)
class Preloaded:
    """What loads before a server forks its workers (server.prefork): Python objects and file data, with no runtime
    threads and no open database, so every worker inherits them instead of loading them again (1.5 s of CPU each)."""

    gazetteer: Gazetteer
    tokenizer: SparseTokenizer
    graph: PreparedGraph | None  # None for the torch encoder, which loads in each worker


def preload(index_settings: IndexSettings) -> Preloaded:
    import cn2an  # noqa: F401  # the short-answer parser: 0.1-0.2 s of regex compiling, once here, not per worker

    with ThreadPoolExecutor(1) as pool:
        words = pool.submit(_load_words)
        graph = prepare_embedder(index_settings)
        gazetteer, tokenizer = words.result()
    return Preloaded(gazetteer, tokenizer, graph)


def _load_words() -> tuple[Gazetteer, SparseTokenizer]:
    gazetteer = Gazetteer.load()
    return gazetteer, SparseTokenizer(gazetteer.tokenizer or make_tokenizer(gazetteer), load_stopwords())


def query_nprobe(settings: IndexSettings) -> int | None:
    """POLICYQA_NPROBE set where the server runs overrides the value the index was built with."""
    return settings.nprobe if "nprobe" in settings.model_fields_set else None


def with_index(resources: Resources, index: IndexView) -> Resources:
    """The same model and answerer over another generation of the index (a live reload)."""
    check_model(
        index.manifest,
        index.directory,
        resources.embedder.model_id,
        resources.embedder.dim,
        resources.embedder.query_prompt,
        resources.embedder.passage_prompt,
    )
    check_encoder(index.manifest, index.directory, getattr(resources.embedder, "encoder", None))
    retriever = replace(resources.retriever, index=index)
    return replace(resources, index=index, retriever=retriever)
