"""Evals: question sets, the metrics that score retrieval and answers on them, and the reports."""
