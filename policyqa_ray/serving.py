"""`policyqa serve --ray ADDRESS --shards S`: the same FastAPI app, its searches fanned out to S shard actors.

The server process keeps the model (it embeds each query once), the gazetteer and the answerer; the shards hold
the index. Live reload works as on one node: the server polls CURRENT, opens the new generation on every shard,
and swaps atomically; shards keep the previous generation open for requests still finishing on it.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from indexer.embedding import Embedder
from indexer.encoders.compat import check_encoder
from indexer.manifest import check_model
from indexer.settings import IndexSettings
from policyqa_ray.cluster import connect
from policyqa_ray.group import ShardGroup
from policyqa_ray.searcher import ShardedIndex, ShardedRetriever
from policyqa_ray.settings import RaySettings
from server.reload import LiveResources
from server.resources import Resources, load_resources, query_nprobe
from server.settings import ServerSettings

logger = logging.getLogger("policyqa.ray")


def _over(resources: Resources, group: ShardGroup) -> Resources:
    """`resources` (model, answerer) over the published generation as the shards serve it."""
    layout, lease = group.open_live()
    manifest, embedder = layout.manifest, resources.embedder
    try:
        check_model(
            manifest, group.index_dir, embedder.model_id, embedder.dim, embedder.query_prompt, embedder.passage_prompt
        )
        check_encoder(manifest, group.index_dir, getattr(embedder, "encoder", None))
    except BaseException:
        lease.release()
        raise
    handle = ShardedIndex(group, layout, lease)
    retriever = resources.retriever
    local = retriever.local if isinstance(retriever, ShardedRetriever) else retriever
    sharded = ShardedRetriever(replace(local, index=handle), group, layout)  # type: ignore[arg-type]
    return replace(resources, index=handle, retriever=sharded)  # type: ignore[arg-type]


class ShardedLive(LiveResources):
    def __init__(self, resources: Resources, group: ShardGroup) -> None:
        super().__init__(resources)
        self.group = group

    def open_published(self, old: Resources) -> Resources:
        return _over(old, self.group)


def sharded_resources(
    index_settings: IndexSettings,
    server_settings: ServerSettings,
    ray_settings: RaySettings,
    embedder: Embedder | None = None,
) -> ShardedLive:
    """Start the shards and load everything else once. The local load opens the index briefly, for the checks
    and parts it shares with a single-node server; the shards then serve it."""
    ray = connect(ray_settings.address, ray_settings.namespace)
    index_dir = index_settings.index_dir.resolve()
    group = ShardGroup.start(ray, index_dir, ray_settings, query_nprobe(index_settings))
    local = load_resources(index_settings.model_copy(update={"index_dir": index_dir}), server_settings, embedder)
    try:
        resources = _over(local, group)
    finally:
        local.index.close()
    logger.info(
        "serving generation %s from %d shards (%d segments)",
        resources.index.generation,
        len(group.actors),
        len(resources.index.segments),
    )
    return ShardedLive(resources, group)


def serve(index_settings: IndexSettings, server_settings: ServerSettings, ray_settings: RaySettings) -> int:
    import uvicorn

    from server.app import create_app
    from server.workers import pin_search_threads

    pin_search_threads()
    live = sharded_resources(index_settings, server_settings, ray_settings)
    app = create_app(index_settings, server_settings, live=live)
    try:
        # One server process: it owns the shard actors (they stop with it), and its threads share them.
        uvicorn.run(app, host=server_settings.host, port=server_settings.port, log_config=None, access_log=False)
    finally:
        live.group.stop()
    return 0
