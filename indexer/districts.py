"""The Chongqing gazetteer: canonical district names, their aliases, and a tagger for district mentions in text.

Full names and long aliases are matched as plain substrings. Two-character short forms (长寿, 江北, 南岸, 两江, 双桥,
忠县...) are also ordinary words or parts of other names, so they count only where jieba cuts them out as a whole
token, with a few known look-alikes (江北机场, 长寿命, 双桥电站...) added as user words so they stay whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType

import jieba

from indexer.jieba_cache import tokenizer_with_words

# Forms this short are common words or name parts; longer ones are specific enough for substring matching.
SHORT_FORM_MAX = 2
# Far above any ordinary word's count (jieba's dictionary totals ~6e7), so names stay one token when adjacent
# characters could also form words; blockers are higher still so that they win over a name inside them.
NAME_FREQ = 100_000
BLOCKER_FREQ = 1_000_000
# Words that contain a short form but do not mean that district or zone (江北机场 lies in 渝北; 两江四岸 is the
# riverfront of the central city, not 两江新区; 双桥电站 is a power station in 潼南).
BLOCKERS = (
    "江北机场",
    "江北国际机场",
    "长江北岸",
    "长江南岸",
    "江南岸",
    "南岸线",
    "长寿命",
    "健康长寿",
    "延年长寿",
    "双桥电站",
    "两江两岸",
    "两江四岸",
    "两江交汇",
)
# Prefixes that may precede a name in user input (重庆市潼南区) without changing which district it is.
CITY_PREFIXES = ("重庆市", "重庆")


@dataclass(frozen=True)
class District:
    """One row of the gazetteer: the canonical full name, its kind and the other names it goes by."""

    name: str
    kind: str
    aliases: tuple[str, ...] = ()

    @property
    def forms(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


def parse_gazetteer(text: str) -> tuple[District, ...]:
    """Rows of `name<TAB>kind<TAB>aliases`; `#` lines are comments."""
    districts = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.rstrip("\n").split("\t")
        if len(cells) < 2:
            raise ValueError(f"gazetteer row needs a name and a kind: {line!r}")
        aliases = tuple(a.strip() for a in (cells[2] if len(cells) > 2 else "").split(",") if a.strip())
        districts.append(District(cells[0].strip(), cells[1].strip(), aliases))
    return tuple(districts)


def _form_pattern(forms: Iterable[str]) -> re.Pattern[str]:
    # Longest first, so that 双桥经开区 wins over 双桥 at the same position.
    ordered = sorted(set(forms), key=lambda f: (-len(f), f))
    return re.compile("|".join(re.escape(f) for f in ordered))


@dataclass(frozen=True)
class Gazetteer:
    """Districts and zones with a lookup from every form to its canonical name; build it with `load`."""

    districts: tuple[District, ...]
    lookup: Mapping[str, str] = field(repr=False, compare=False)  # derived from `districts`
    pattern: re.Pattern[str] = field(repr=False, compare=False)
    # Held so that `find` never pays jieba's one-second dictionary load per call.
    tokenizer: jieba.Tokenizer | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_districts(cls, districts: Iterable[District], *, with_tokenizer: bool = True) -> Gazetteer:
        rows = tuple(districts)
        lookup: dict[str, str] = {}
        for row in rows:
            for form in row.forms:
                lookup.setdefault(form, row.name)
        plain = cls(rows, MappingProxyType(lookup), _form_pattern(lookup))
        if not with_tokenizer:
            return plain
        return cls(rows, plain.lookup, plain.pattern, make_tokenizer(plain))

    @classmethod
    def load(cls, path: Path | None = None, *, with_tokenizer: bool = True) -> Gazetteer:
        """The gazetteer from `path`, or the one shipped as package data (indexer/data/chongqing.tsv)."""
        if path is None:
            text = resources.files("indexer").joinpath("data/chongqing.tsv").read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        return cls.from_districts(parse_gazetteer(text), with_tokenizer=with_tokenizer)

    def names(self) -> tuple[str, ...]:
        return tuple(row.name for row in self.districts)

    def user_dict_words(self) -> tuple[str, ...]:
        """Every name and alias, then the look-alike words that must stay whole (see BLOCKERS)."""
        words = [form for row in self.districts for form in row.forms]
        return tuple(dict.fromkeys([*words, *BLOCKERS]))

    def canonical(self, name: str) -> str | None:
        """潼南 / 潼南区 / 重庆市潼南区 / 开县 / 西部科学城 → the canonical full name; None for anything else."""
        key = name.strip()
        if key in self.lookup:
            return self.lookup[key]
        for prefix in CITY_PREFIXES:
            if key.startswith(prefix) and key[len(prefix) :] in self.lookup:
                return self.lookup[key[len(prefix) :]]
        return None

    def find(self, text: str) -> tuple[str, ...]:
        """Canonical names mentioned in `text`, in order of first mention, each once."""
        found: list[str] = []
        verified: dict[int, frozenset[int]] = {}  # jieba block start -> short-form token starts in it
        pos = 0
        while match := self.pattern.search(text, pos):
            form = match.group()
            if len(form) <= SHORT_FORM_MAX and match.start() not in self._short_form_starts(text, match, verified):
                # A rejected short form may overlap the start of a real mention: resume one character on.
                pos = match.start() + 1
                continue
            pos = match.end()
            name = self.lookup[form]
            if name not in found:
                found.append(name)
        return tuple(found)

    def _short_form_starts(
        self, text: str, match: re.Match[str], verified: dict[int, frozenset[int]]
    ) -> frozenset[int]:
        """Start offsets of the tokens that are exactly a short form, in the jieba block around `match`.

        jieba cuts each run of Han characters, letters and digits on its own (its `re_han_default` blocks), so
        cutting only the run that holds the match gives exactly the tokens a cut of the whole text gives there, at
        a fraction of the cost: a sentence is several such runs between punctuation."""
        if self.tokenizer is None:
            raise ValueError("this Gazetteer was loaded without a tokenizer; use Gazetteer.load() to tag text")
        begin, end = match.start(), match.end()
        while begin > 0 and jieba.re_han_default.fullmatch(text, begin - 1, begin):
            begin -= 1
        while end < len(text) and jieba.re_han_default.fullmatch(text, end, end + 1):
            end += 1
        if begin not in verified:
            starts = []
            offset = begin
            # HMM off: names are dictionary words, and the HMM only regroups unknown single characters.
            for token in self.tokenizer.cut(text[begin:end], HMM=False):
                if len(token) <= SHORT_FORM_MAX and token in self.lookup:
                    starts.append(offset)
                offset += len(token)
            verified[begin] = frozenset(starts)
        return verified[begin]


def make_tokenizer(gazetteer: Gazetteer) -> jieba.Tokenizer:
    """A new jieba tokenizer that knows every name and alias; jieba's global tokenizer is left untouched."""
    words = {word: BLOCKER_FREQ if word in BLOCKERS else NAME_FREQ for word in gazetteer.user_dict_words()}
    return tokenizer_with_words(words)
