"""Text normalisation, in one place, for everything that *matches* text: BM25 tokens at indexing and query time, the
query embedder and the answerer's question analysis.

Two levels:
- `clean(text)`: what user input must satisfy before anything else sees it. Lone surrogates (valid in a JSON string,
  not encodable as UTF-8, fatal to the HF tokenizer) raise `InvalidTextError`; invisible format characters
  (zero-width space/joiners, BOM, bidi controls, soft hyphen, variation selectors) and control characters are
  removed. The cleaned text is what the API echoes.
- `fold(text)`: a matching key. `clean` (surrogates dropped instead of raising: indexing never fails on text), NFKC
  where it is safe, and traditional → simplified Chinese (OpenCC t2s).

Stored article text and every offset into it are never folded: only the strings handed to a tokenizer or model are.

NFKC "where safe": only full-width ASCII letters and digits, the ideographic and other odd spaces, CJK
compatibility ideographs and Kangxi radicals (which look like, and mean, ordinary ideographs). Full NFKC would also
rewrite full-width punctuation (，。？→ ,.?), ％, ㎡ and ①, which the sentence splitter, the question profile's
patterns and the answer features look for in their full-width forms.
"""

from __future__ import annotations

import functools
import threading
import unicodedata
from typing import Any

_SURROGATES = range(0xD800, 0xE000)
# Invisible characters that change no meaning but split words for a tokenizer (「潼\u200b南」 is not 潼南).
_INVISIBLE = (
    0x00AD,  # soft hyphen
    0x034F,  # combining grapheme joiner
    0x061C,  # Arabic letter mark
    0x180E,  # Mongolian vowel separator
    0xFEFF,  # BOM / zero-width no-break space
    *range(0x200B, 0x2010),  # zero-width space, non-joiner, joiner; LTR/RTL marks
    *range(0x202A, 0x202F),  # bidi embeddings and overrides
    *range(0x2060, 0x2070),  # word joiner, invisible operators, bidi isolates
    *range(0xFE00, 0xFE10),  # variation selectors
    *range(0xFFF9, 0xFFFC),  # interlinear annotation marks
)
# C0 and C1 controls; tab, newline and carriage return are whitespace, which callers strip or split on themselves.
_CONTROLS = [c for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if chr(c) not in "\t\n\r"]
_REMOVED = frozenset([*_INVISIBLE, *_CONTROLS])
# Unicode's space separators (category Zs) other than the ASCII space.
_SPACES = [0x00A0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000]

# A JSON-Schema (ECMA-262) character class for "a character that survives `clean` and is not whitespace": the
# OpenAPI `pattern` of query fields, so the documented schema and the validator agree.
VISIBLE_CHAR_PATTERN = "[^\\s" + "".join(f"\\u{c:04x}" for c in sorted(_REMOVED)) + "]"


# Bump when `fold` changes what it produces: indexes record it (indexer.sparse.SparseSettings) and re-tokenise.
NORMALIZATION_VERSION = 1


class InvalidTextError(ValueError):
    """Text that cannot be processed: it holds a lone UTF-16 surrogate."""


def lone_surrogate_at(text: str) -> int | None:
    """Index of the first lone surrogate in `text` (Python strs from JSON can hold them), or None."""
    for i, ch in enumerate(text):
        if 0xD800 <= ord(ch) <= 0xDFFF:
            return i
    return None


def _cleaning_table() -> dict[int, Any]:
    return dict.fromkeys(_REMOVED)


def _folding_table() -> dict[int, Any]:
    table: dict[int, Any] = _cleaning_table()
    table.update(dict.fromkeys(_SURROGATES))
    safe = [
        *range(0xFF10, 0xFF1A),  # full-width digits
        *range(0xFF21, 0xFF3B),  # full-width A-Z
        *range(0xFF41, 0xFF5B),  # full-width a-z
        *range(0xF900, 0xFB00),  # CJK compatibility ideographs
        *range(0x2F00, 0x2FE0),  # Kangxi radicals
        *range(0x2F800, 0x2FA20),  # CJK compatibility ideographs supplement
    ]
    for code in safe:
        normal = unicodedata.normalize("NFKC", chr(code))
        if normal != chr(code):
            table[code] = normal
    # Every space separator (ideographic space U+3000, no-break space, thin spaces...) becomes a plain space.
    for code in _SPACES:
        table[code] = " "
    return table


_CLEAN = _cleaning_table()
_FOLD = _folding_table()


def clean(text: str) -> str:
    """Raise InvalidTextError for a lone surrogate; remove invisible format and control characters."""
    at = lone_surrogate_at(text)
    if at is not None:
        raise InvalidTextError(f"holds a lone UTF-16 surrogate (U+{ord(text[at]):04X}) at character {at}")
    return text.translate(_CLEAN)


_LOCK = threading.Lock()


@functools.cache
def _converter() -> Any:
    # Imported here: OpenCC loads its dictionaries on first use, and `policyqa --help` should not pay for that.
    import opencc

    return opencc.OpenCC("t2s")


def fold(text: str) -> str:
    """The matching key of `text`: invisible characters removed, safe NFKC, traditional → simplified."""
    folded = text.translate(_FOLD)
    if folded.isascii():
        return folded
    converter = _converter()
    with _LOCK:  # one native converter shared by the server's worker threads
        return converter.convert(folded)
