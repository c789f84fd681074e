"""Words are maximal isalpha runs; count_words must agree with the plain definition."""

import random
from collections import Counter

from mrkit.text import count_words, words


def _reference_words(text):
    """The definition, character by character."""
    out, current = [], ""
    for ch in text:
        if ch.isalpha():
            current += ch
        elif current:
            out.append(current)
            current = ""
    return out + ([current] if current else [])


def test_words_follow_isalpha():
    text = "Don't stop—café²x naïve x²y 3rd under_score Ελλάδα, Москва! \ufffd ok"
    assert words(text) == _reference_words(text)
    assert "café" in words(text) and "t" in words(text) and "rd" in words(text)


def test_count_words_matches_the_definition_on_random_unicode():
    rng = random.Random(7)
    alphabet = "abcXYZ éüßЖж中文 \t\n,.'-—_0123²½Ⅻ\ufffd\u00a0\u2019" + "".join(chr(c) for c in range(0x300, 0x310))
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120)))
        assert count_words(text) == Counter(_reference_words(text)), repr(text)


def test_count_words_on_plain_ascii_and_empty_text():
    assert count_words("") == {}
    assert count_words("the cat and the hat") == {"the": 2, "cat": 1, "and": 1, "hat": 1}
    assert count_words("The the THE") == {"The": 1, "the": 1, "THE": 1}


def test_count_words_with_lone_surrogates():
    text = "ab\udcffcd ef"
    assert count_words(text) == Counter(_reference_words(text)) == {"ab": 1, "cd": 1, "ef": 1}


def test_count_words_across_block_boundaries():
    from mrkit import text as text_module

    words_ = ["alpha", "béta", "x²y", "gamma—delta"] * 200_000  # several MB, crossing 1 MiB blocks
    sample = " ".join(words_)
    assert text_module._BLOCK < len(sample.encode())
    assert count_words(sample) == Counter(_reference_words(sample))
