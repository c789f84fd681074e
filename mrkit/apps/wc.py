"""Word count: `word count` for every word of the inputs."""

from mrkit.text import count_words, words


def map(filename, contents):
    return ((word, "1") for word in words(contents))


def combine(key, values):
    return [str(sum(int(v) for v in values))]


def reduce(key, values):
    return str(sum(int(v) for v in values))


def map_combined(filename, contents):
    """map followed by combine, without a Python step per word (the hot path)."""
    return {word: [str(n)] for word, n in count_words(contents).items()}
