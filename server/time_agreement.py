"""Do not answer a question about one year from an article about another.

`agreeing` keeps the passages an answer may be read from: when the question writes out a year (2023年), a passage
of an article dated in another year is dropped unless the passage itself names the asked year (a 2024 review
saying 「2023年，全区…」 still answers). Undated articles stay: nothing says they disagree. A relative year
(今年, 去年) only ranks (server.time_ranking): in a news archive 「今年」 in a question often means the year of the
news the asker has in mind, and dropping every older article for it would leave most questions unanswered.
`sentence_disagrees` is the same test for one sentence, for answerers that score sentences.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from indexer.records import Article
from server.question_time import QuestionTime
from server.retrieval import Passage
from server.time_ranking import mentions_year
from server.time_words import article_year

_YEAR = re.compile(r"((?:19|20)[0-9]{2})\s*年")


def agreeing(passages: Sequence[Passage], asked: QuestionTime) -> list[Passage]:
    if asked.year is None or not asked.explicit:
        return list(passages)
    return [p for p in passages if not _other_year(p.article, p.chunk.text, asked.year)]


def sentence_disagrees(sentence: str, article: Article, asked: QuestionTime) -> bool:
    """True when the question names a year and the sentence is about another: it names years, none the asked
    one; or it names none and its article is dated in another year."""
    if asked.year is None:
        return False
    named = {int(y) for y in _YEAR.findall(sentence)}
    if named:
        return asked.year not in named
    return _other_year(article, sentence, asked.year)


def _other_year(article: Article, text: str, year: int) -> bool:
    dated = article_year(article)
    return dated is not None and dated != year and not mentions_year(text, year)
