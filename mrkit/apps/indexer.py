"""Inverted index: `word N doc1,doc2,...` with the distinct documents, sorted.

Documents are the input paths as given, so the output is the same however
many map tasks an input is split into.
"""

from mrkit.text import count_words, words


def map(filename, contents):
    return ((word, filename) for word in set(words(contents)))


def combine(key, values):
    return sorted(set(values))


def reduce(key, values):
    docs = sorted(set(values))
    return f"{len(docs)} {','.join(docs)}"


def map_combined(filename, contents):
    return {word: [filename] for word in count_words(contents)}
