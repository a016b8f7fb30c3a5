"""JSON log lines: one object per line, the standard fields, the decision's fields from ``extra=``."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from screener.logs import JsonFormatter, call_fields


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("screener.test", logging.WARNING, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_a_record_is_one_json_line_with_the_standard_fields_and_the_extra_ones() -> None:
    fields = call_fields(call_id="1795871312.0", campaign="lab", verdict="block", reasons=["dnc_internal"],
                         number="+121****0102")
    line = JsonFormatter().format(_record("screen %s\nsecond line", "+121****0102", **fields))
    assert "\n" not in line
    out = json.loads(line)
    assert out["level"] == "WARNING" and out["logger"] == "screener.test"
    assert out["message"] == "screen +121****0102\nsecond line"
    assert out["time"].endswith("+00:00") and "T" in out["time"]
    assert {k: out[k] for k in fields} == fields
    assert not {"args", "msg", "levelno", "pathname", "exc_info"} & out.keys()  # no LogRecord internals


def test_an_exception_and_odd_values_are_kept_in_the_line() -> None:
    try:
        raise ValueError("not an E.164 number")
    except ValueError:
        record = logging.LogRecord("screener.x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    record.path = Path("/var/lib/screener")
    out = json.loads(JsonFormatter().format(record))
    assert "ValueError: not an E.164 number" in out["exception"] and out["path"] == "/var/lib/screener"


def test_call_fields_leave_empty_values_out_as_null() -> None:
    assert call_fields(call_id="", campaign="", verdict="block", reasons=(), number="") == {
        "call_id": None, "campaign": None, "verdict": "block", "reasons": [], "number": ""}
