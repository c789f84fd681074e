"""runtime/protocol.py: each message round-trips through JSON, and a malformed one is a ProtocolError naming what
is wrong (the only error the master answers with 400)."""

import json

import pytest

from mrkit.runtime.protocol import (
    Action,
    Assignment,
    ProtocolError,
    Report,
    Status,
    TaskRequest,
    parse_report,
)


def _wire(message):
    return json.loads(json.dumps(message.to_json()))


@pytest.mark.parametrize(
    "message",
    [
        TaskRequest(12, "host", 2.5),
        TaskRequest(12, "host", worker="w3"),
        Assignment(Action.MAP, "w0", "r1", 2, {"task": 0, "n_reduce": 2, "splits": [["a", "a", 0, 5]]}, "s3://b/p"),
        Assignment(Action.REDUCE, "w1", "r1", 1, {"task": 1, "maps": [0, 1], "bytes_in": 9}),
        Assignment(Action.WAIT, "w0", "r1"),
        Assignment(Action.EXIT, "w0", "r1", failed="map task 0: boom"),
        Assignment(Action.EXIT, "w0", "r1", failed="cannot write in /x: No space left on device", fatal=True),
        Status(
            "r1",
            "reduce",
            {"total": 2, "idle": 0, "in_progress": 0, "done": 2, "failed": 0},
            {"total": 1, "idle": 1, "in_progress": 0, "done": 0, "failed": 0},
            3,
            1.5,
            None,
            "h",
            7,
        ),
    ],
)
def test_each_message_round_trips_through_json(message):
    assert type(message).parse(_wire(message)) == message


def test_a_report_round_trips_through_json():
    report = Report("w0", "map", 1, 2, 10.0, 11.0, {"bytes_in": 5, "cpu_s": 0.1}, ((0, 3), (1, 4)))
    assert parse_report(_wire(report), {"map": 2, "reduce": 2}, 2) == report
    failed = Report("w0", "reduce", 0, 1, 10.0, 11.0, {"cpu_s": 0.1}, error="cannot reach S3", storage=True)
    assert parse_report(_wire(failed), {"map": 2, "reduce": 2}, 2, failed=True) == failed
    failed = Report("w0", "map", 1, 1, 10.0, 11.0, {"cpu_s": 0.1}, error="input a.txt changed", fatal=True)
    assert parse_report(_wire(failed), {"map": 2, "reduce": 2}, 2, failed=True) == failed


@pytest.mark.parametrize(
    "parse, body, message",
    [
        (TaskRequest.parse, {"pid": "1", "host": "h"}, "'pid' and 'slowdown' must be numbers"),
        (TaskRequest.parse, {"pid": 1, "host": "h", "worker": 3}, "'worker' must be the label"),
        (TaskRequest.parse, [1], "a message must be a JSON object, not list"),
        (Assignment.parse, {"action": "sort"}, "'action' must be one of ['map', 'reduce', 'wait', 'exit'], got 'sort'"),
        (Assignment.parse, {"action": "map", "worker": "w0", "run_id": "r", "attempt": 1}, "needs its task's payload"),
        (Assignment.parse, {"action": "map", "task": {"task": 0}, "attempt": True}, "'attempt' must be a number"),
        (
            Status.parse,
            {"run_id": "r", "phase": "map", "map": {"total": 1}, "reduce": {"total": 1, "done": 0}, "workers": 0},
            "status 'map' must count its tasks",
        ),
        (Status.parse, {"run_id": "r", "phase": "sorting"}, "status 'phase' must be one of"),
        (
            lambda body: parse_report(body, {"map": 1, "reduce": 1}, 1),
            {"phase": "map", "task": 0, "attempt": 1, "start": 0, "end": 1, "worker": "w0", "storage": "yes"},
            "'storage' must be true or false",
        ),
    ],
)
def test_a_malformed_message_is_a_protocol_error_naming_what_is_wrong(parse, body, message):
    with pytest.raises(ProtocolError) as raised:
        parse(body)
    assert message in str(raised.value)
