"""Test app: map raises on every input whose name contains 'bad'."""


def map(filename, contents):
    if "bad" in filename:
        raise ValueError(f"cannot digest {filename}")
    return [("ok", "1")]


def reduce(key, values):
    return str(len(values))
