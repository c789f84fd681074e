"""The crash app's job without the crashes: the reference output for crash tests.

As in the lab: key `a` lists the input paths, `b` their lengths, `c` the
lengths of the contents each map call saw, `d` a constant; reduce sorts and
joins the values.
"""


def map(filename, contents):
    return [("a", filename), ("b", str(len(filename))), ("c", str(len(contents))), ("d", "xyzzy")]


def reduce(key, values):
    return " ".join(sorted(values))
