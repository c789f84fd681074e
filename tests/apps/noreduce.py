"""Test app: lacks reduce, to check the loader's message."""


def map(filename, contents):
    return []
