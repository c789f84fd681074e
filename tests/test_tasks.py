"""Map and reduce tasks against a local storage."""

from mrkit import shuffle, tasks
from mrkit.app import load_app
from mrkit.storage.local import LocalStorage


def test_reduce_output_is_the_same_sorted_in_memory_or_streamed(tmp_path):
    storage = LocalStorage(tmp_path)
    app = load_app({"map": lambda filename, contents: [], "reduce": lambda key, values: "|".join(values)})
    parts = [{"b": ["1"], "a": ["2", "2\x01"], "tab\there": ["x\\y"]}, {"a": ["0"], "c": ["3\n"]}]
    for m, part in enumerate(parts):
        storage.write_bytes(shuffle.intermediate_name(m, 0), shuffle.encode_partition(part)[0])
    outputs = []
    for bytes_in in (1, tasks.SORT_IN_MEMORY_BYTES + 1):  # in memory, then streamed
        counters = tasks.run_reduce(app, {"task": 0, "maps": [0, 1], "bytes_in": bytes_in}, storage)
        outputs.append((storage.read_bytes(shuffle.output_name(0)), counters["records_in"], counters["records_out"]))
    assert outputs[0] == outputs[1] == (b"a 0|2\x01|2\nb 1\nc 3\n\ntab\there x\\y\n", 6, 4)
