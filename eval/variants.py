"""Does a question's spelling change its answer? Each question is asked plain, in traditional characters (OpenCC
s2t) and with zero-width characters inside it, through the same path as POST /ask (request model, normalisation,
retrieval, answering); the share of questions whose variant gets exactly the plain question's answer is reported.
Issue 15's target: at least 95% for every corpus_gold question."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.resources import Resources

_INVISIBLE = ("\u200b", "\u200d", "\ufeff", "\u2060")


def zero_width(text: str) -> str:
    """An invisible character after every second character: 「潼南\u200b的柠\u200d檬…」."""
    return "".join(ch + (_INVISIBLE[i // 2 % len(_INVISIBLE)] if i % 2 else "") for i, ch in enumerate(text))


def traditional() -> Callable[[str], str]:
    import opencc

    converter = opencc.OpenCC("s2t")
    return converter.convert


def variant_agreement(resources: Resources, questions: Sequence[str]) -> dict[str, Any]:
    from server.schemas import AskRequest
    from server.service import run_ask

    def answer(question: str) -> str | None:
        return run_ask(resources, AskRequest(question=question)).answer

    variants = {"traditional": traditional(), "zero_width": zero_width}
    same = dict.fromkeys(variants, 0)
    differing: dict[str, list[str]] = {name: [] for name in variants}
    changed = dict.fromkeys(variants, 0)
    for question in questions:
        plain = answer(question)
        for name, make in variants.items():
            variant = make(question)
            changed[name] += variant != question
            if answer(variant) == plain:
                same[name] += 1
            else:
                differing[name].append(question)
    n = len(questions)
    return {
        "questions": n,
        "spelled_differently": changed,
        "same_answer": same,
        "same_answer_rate": {name: round(same[name] / n, 4) if n else 1.0 for name in variants},
        "differing": differing,
    }
