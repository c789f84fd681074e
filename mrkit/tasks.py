"""Running one map or one reduce task against a storage, whoever calls it.

A task arrives as a plain dict (it travels as JSON from the master); the
result is the counters that go into its timing record. Every file is written
whole through the storage's atomic writer, so a crashed or duplicated attempt
never leaves a partial file behind.
"""

from contextlib import ExitStack

from mrkit import contract, fanin, shuffle

# A reduce whose intermediate files total at most this many bytes reads them
# whole and sorts in memory (~12 times their size, less than a map task of
# 12.5 MiB holds); larger ones are merged streaming, a key group at a time.
SORT_IN_MEMORY_BYTES = 4 << 20


def _decode(data):
    # Invalid UTF-8 becomes U+FFFD, as the lab's Go code treats it.
    return data.decode("utf-8", "replace")


def run_map(app, task, storage):
    """Map every split of the task and write its R sorted intermediate files.

    Returns counters plus `partitions`: [reduce task, bytes] for each
    partition that got records, so reduce tasks read only files that exist
    and know their input size without asking the storage.
    """
    n_reduce = task["n_reduce"]
    grouped = {}
    bytes_in = 0
    for path, location, start, end, *version in task["splits"]:
        if version and version[0]:  # the input as the master split it, or InputChanged
            contents = _decode(storage.read_pinned(location, start, end, version[0]))
        else:
            contents = _decode(storage.read_range(location, start, end))
        bytes_in += end - start
        # Each app function's output is checked as it comes (str keys and values): a
        # join in C, and the error names the function that broke the contract.
        if app.map_combined is not None:
            part = app.map_combined(path, contents)
            contract.check_grouped(part, "map_combined", path)
        else:
            part = shuffle.group(contract.emitted(app.map(path, contents), "map", path))
            contract.check_grouped(part, "map", path)
            if app.combine is not None:
                part = shuffle.combine_groups(part, app.combine)
                contract.check_grouped(part, "combine", path)
        if not grouped:
            grouped = _extendable(part) if len(task["splits"]) > 1 else part
        else:
            for key, values in part.items():
                grouped.setdefault(key, []).extend(values)
    if app.combine is not None and len(task["splits"]) > 1:
        # A combiner may run any number of times on a key's values, and each split's were combined (or came
        # from map_combined): only a key with more than one value, from several splits, has work left. A task's
        # splits cross a file's end (M not a multiple of the files, an input a few bytes short of its share),
        # and combining every key again took a tenth of wc's map CPU over 8 files at M = 8 and 20 (docs/internals.md).
        combined = shuffle.combine_groups({key: values for key, values in grouped.items() if len(values) > 1}, app.combine)
        contract.check_grouped(combined, "combine")
        grouped.update(combined)
    bytes_out = records_out = 0
    partitions = []
    for reduce_task, bucket in enumerate(shuffle.split_partitions(grouped, n_reduce)):
        if not bucket:
            continue
        data, records = shuffle.encode_partition(bucket)
        storage.write_bytes(shuffle.intermediate_name(task["task"], reduce_task), data)
        bytes_out += len(data)
        records_out += records
        partitions.append([reduce_task, len(data)])
    return {
        "bytes_in": bytes_in,
        "bytes_out": bytes_out,
        "records_in": len(task["splits"]),
        "records_out": records_out,
        "partitions": partitions,
    }


def _extendable(part):
    """The first split's key -> values with a list of its own per key, which the other splits' values extend.

    An app's map_combined may return tuples, or one list for several keys (its
    document's name for every word); extending those would fail, or add a
    value to every key sharing the list. Checked in C (~1 ms for 30,000 keys);
    copied only where needed.
    """
    values = part.values()
    if set(map(type, values)) <= {list} and len(set(map(id, values))) == len(part):
        return dict(part)
    return {key: list(values) for key, values in part.items()}


def run_reduce(app, task, storage):
    """Merge the task's intermediate files and write `mr-out-<task>`.

    At most `fanin.MAX_OPEN_FILES` intermediate files are open at once,
    however many map tasks there were.
    """
    names = [shuffle.intermediate_name(m, task["task"]) for m in task["maps"]]
    records_in = records_out = bytes_out = 0
    small = task.get("bytes_in", SORT_IN_MEMORY_BYTES + 1) <= SORT_IN_MEMORY_BYTES
    with ExitStack() as stack:
        if small:  # read whole, one file at a time, and sorted in memory
            groups = shuffle.sorted_groups(fanin.one_at_a_time(storage, names))
        else:
            groups = shuffle.merge_groups(stack.enter_context(fanin.bounded_files(storage, names, f"{task['task']}")))
        out = stack.enter_context(storage.atomic_writer(shuffle.output_name(task["task"])))
        batch = []
        for key, values in groups:
            result = app.reduce(key, values)
            if type(result) is not str:  # one comparison per key; a str subclass passes the full check
                contract.check_reduced(key, result)
            batch.append((key, result))
            records_in += len(values)
            records_out += 1
            if len(batch) >= 4096:
                bytes_out += _flush(out, batch)
        bytes_out += _flush(out, batch)
    return {
        "bytes_in": task.get("bytes_in", 0),
        "bytes_out": bytes_out,
        "records_in": records_in,
        "records_out": records_out,
    }


def _flush(out, batch):
    """Write a batch of (key, result) as output lines; returns the bytes written."""
    data = shuffle.encode_output(batch)
    out.write(data)
    batch.clear()
    return len(data)
