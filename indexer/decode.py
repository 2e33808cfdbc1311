"""Bytes of a corpus file → text, with the encoding it was read as, or the reason it is not text.

Chinese government text often comes as GB18030/GBK, and Windows tools write UTF-16 with a BOM. The order of tries:
1. a byte-order mark: UTF-8, UTF-16 or UTF-32 (UTF-32 first: its little-endian BOM starts like UTF-16's);
2. NUL bytes without a BOM: binary (no text encoding we read puts NULs in Chinese or ASCII text);
3. strict UTF-8 (ASCII included);
4. strict GB18030 (a superset of GBK and GB2312), accepted when the result is plausibly Chinese text: legacy
   single-byte text or random bytes can also decode as GB18030, but then into rare characters and symbols;
5. charset-normalizer's best guess (Big5, other legacy code pages), accepted when it reports little "chaos".
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

# UTF-32 before UTF-16: BOM_UTF32_LE begins with BOM_UTF16_LE.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
BOMS = tuple(bom for bom, _ in _BOMS)
# Share of characters that must be common (ASCII, CJK ideographs, CJK and full-width punctuation, whitespace) for a
# GB18030 reading to count as text.
_PLAUSIBLE = 0.9
_MAX_CHAOS = 0.2


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # the codec name, e.g. "utf-8", "utf-16", "gb18030"


def _common(ch: str) -> bool:
    code = ord(ch)
    return (
        code < 0x80
        or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0x3000 <= code <= 0x303F  # CJK punctuation
        or 0xFF00 <= code <= 0xFFEF  # full-width forms
        or 0x2010 <= code <= 0x206F  # general punctuation: dashes, quotes, ellipsis
        or ch.isspace()
    )


def plausible_text(text: str) -> bool:
    if not text:
        return True
    return sum(map(_common, text)) >= _PLAUSIBLE * len(text)


def decode_text(data: bytes) -> Decoded | str:
    """The text of `data` and how it was decoded, or why it is not text (the reason for a `Skipped`)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return Decoded(data.decode(codec), codec.removesuffix("-sig"))
            except UnicodeDecodeError as exc:
                return f"starts with a {codec} byte-order mark but is not valid {codec} (offset {exc.start})"
    if b"\x00" in data:
        return "binary file (contains NUL bytes and no UTF-16/UTF-32 byte-order mark)"
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError as exc:
        utf8_error = f"invalid UTF-8 byte 0x{data[exc.start]:02x} at offset {exc.start}"
    try:
        text = data.decode("gb18030")
        if plausible_text(text):
            return Decoded(text, "gb18030")
    except UnicodeDecodeError:
        pass
    guess = _guess(data)
    if guess is not None:
        return guess
    return f"not text in UTF-8, UTF-16/32 (with BOM), GB18030/GBK or a detectable encoding ({utf8_error})"


def _guess(data: bytes) -> Decoded | None:
    from charset_normalizer import from_bytes  # only for the rare file that is neither UTF-8 nor GB18030

    best = from_bytes(data).best()
    if best is None or best.chaos > _MAX_CHAOS:
        return None
    text = str(best)
    if not text.strip() or not all(ch.isprintable() or ch.isspace() for ch in text):
        return None
    return Decoded(text, best.encoding)
