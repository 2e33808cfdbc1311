"""The cached prefix dictionary tokenises exactly like one built word by word, and a bad cache file is rebuilt."""

from __future__ import annotations

from pathlib import Path

import jieba

from indexer.jieba_cache import tokenizer_with_words

WORDS = {"潼南区": 100_000, "潼南": 100_000, "高新区": 1_000_000}
TEXT = "潼南区的柠檬产业年产值达75亿元，高新区企业新增7名员工。"


def _built_word_by_word() -> jieba.Tokenizer:
    tokenizer = jieba.Tokenizer()
    for word, freq in WORDS.items():
        tokenizer.add_word(word, freq=freq)
    return tokenizer


def test_the_cached_dictionary_cuts_like_one_built_word_by_word(tmp_path: Path) -> None:
    first = tokenizer_with_words(WORDS, tmp_path)  # builds and writes the cache
    assert len(list(tmp_path.glob("prefix-dict-*.pickle"))) == 1
    cached = tokenizer_with_words(WORDS, tmp_path)  # reads it
    expected = _built_word_by_word()
    assert cached.FREQ == expected.FREQ and cached.total == expected.total
    assert cached.lcut(TEXT, HMM=False) == expected.lcut(TEXT, HMM=False) == first.lcut(TEXT, HMM=False)
    assert "潼南区" in cached.lcut(TEXT, HMM=False)


def test_other_words_get_their_own_cache_file(tmp_path: Path) -> None:
    tokenizer_with_words(WORDS, tmp_path)
    other = tokenizer_with_words({**WORDS, "荣昌区": 100_000}, tmp_path)
    assert len(list(tmp_path.glob("prefix-dict-*.pickle"))) == 2
    assert "荣昌区" in other.FREQ


def test_an_unreadable_cache_is_rebuilt(tmp_path: Path) -> None:
    tokenizer_with_words(WORDS, tmp_path)
    (cache,) = tmp_path.glob("prefix-dict-*.pickle")
    cache.write_bytes(b"not a pickle")
    rebuilt = tokenizer_with_words(WORDS, tmp_path)
    assert rebuilt.FREQ == _built_word_by_word().FREQ
    assert tokenizer_with_words(WORDS, tmp_path).FREQ == rebuilt.FREQ  # and written back whole
