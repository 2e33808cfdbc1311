"""The Ray engine: distributed indexing (a Ray Data pipeline with an embedding actor pool) and sharded serving
(segments spread over shard actors, corpus-wide BM25 statistics combined before scoring).

Optional: installed with `pip install -e ".[ray]"`. It imports `indexer/` and `server/`; nothing there imports it.
"""
