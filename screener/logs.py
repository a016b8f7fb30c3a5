"""Log output of ``screener serve``: human-readable lines (the default) or JSON lines (``--log-format json``,
``SCREENER_LOG_FORMAT=json``) for journald, Loki, Elasticsearch and the like.

A JSON line holds ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``, then every field a log call
passed with ``extra=``: the front ends log each decision with ``extra=call_fields(...)`` (call id, campaign,
verdict, reasons and the masked number), so a log pipeline can filter on them without parsing the message.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")
FORMAT_ENV = "SCREENER_LOG_FORMAT"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: the attributes every LogRecord has; anything else on a record came from ``extra=``
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (with ``worker``: N in a worker of ``serve --workers``)."""

    def __init__(self, worker: int | None = None) -> None:
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.worker is not None:
            out["worker"] = self.worker
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def call_fields(*, call_id: str | None, campaign: str | None, verdict: str, reasons: Iterable[str],
                number: str) -> dict[str, Any]:
    """The ``extra=`` of a decision's log line. ``number`` must already be masked."""
    return {"call_id": call_id or None, "campaign": campaign or None, "verdict": verdict,
            "reasons": list(reasons), "number": number}


def setup(level: str, log_format: str = "text", *, worker: int | None = None) -> None:
    """Send the root logger's records to stderr in ``log_format`` ("text" or "json") at ``level`` (unless logging
    was set up already, by a test harness for example: then only the level is set). ``worker``: the lines of a
    worker of ``serve --workers`` say which one (``[worker N]``, or a ``worker`` field in JSON)."""
    if log_format not in FORMATS:
        raise ValueError(f"log format {log_format!r} is not one of {', '.join(FORMATS)}")
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        text = TEXT_FORMAT if worker is None else TEXT_FORMAT.replace("%(name)s", f"[worker {worker}] %(name)s")
        handler.setFormatter(JsonFormatter(worker) if log_format == "json" else logging.Formatter(text))
        root.addHandler(handler)
    root.setLevel(level.upper())
