"""The middle floor: retrieval, answering and the HTTP API over an index built by `indexer`."""
