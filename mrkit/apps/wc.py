"""Word count: `word count` for every word of the inputs."""

import builtins

from mrkit.text import count_words, words


def _total(values):
    # This module's own `map` shadows the builtin, hence builtins.map.
    return str(sum(builtins.map(int, values)))


def map(filename, contents):
    return ((word, "1") for word in words(contents))


def combine(key, values):
    return [_total(values)]


def reduce(key, values):
    return _total(values)


def map_combined(filename, contents):
    """map followed by combine, without a Python step per word (the hot path)."""
    return {word: [str(n)] for word, n in count_words(contents).items()}
