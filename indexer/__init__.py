"""The ground floor of policyqa: read articles, chunk them, embed them, and keep a self-describing index."""
