"""Gold files name articles as users do: by id, or by file name with or without its extension.

`000_15adcedcf932199a.txt`, `000_15adcedcf932199a` and the article id all name the same article; names are
resolved to ids against the index once, before judging, so everything downstream compares ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import PurePath

from eval.questions import EvalQuestion


def name_table(articles: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Every name an article answers to -> its id, from (article_id, path) pairs; ambiguous names are left out."""
    table: dict[str, str] = {}
    ambiguous: set[str] = set()
    for article_id, path in articles:
        names = {PurePath(path).name, PurePath(path).stem, PurePath(article_id).stem} if path else set()
        for name in names - {"", article_id}:
            if table.get(name, article_id) != article_id:
                ambiguous.add(name)
            table[name] = article_id
    for name in ambiguous:
        del table[name]
    for article_id, _ in articles:
        table[article_id] = article_id  # an id always names itself, whatever else shares the name
    return table


def resolve_names(questions: Sequence[EvalQuestion], table: dict[str, str]) -> tuple[EvalQuestion, ...]:
    """The questions with every evidence key turned into an article id; unknown names stay (judging reports them)."""
    out = []
    for question in questions:
        evidence: dict[str | None, tuple[str, ...]] = {}
        for name, items in question.evidence.items():
            key = table.get(name, name) if name is not None else None
            evidence[key] = tuple(dict.fromkeys((*evidence.get(key, ()), *items)))
        out.append(replace(question, evidence=evidence))
    return tuple(out)
