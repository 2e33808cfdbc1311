"""The `policyqa` command: the top floor, importing the indexer, server and eval layers below it."""
