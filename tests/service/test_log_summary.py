"""LogSummary: the first event of a kind is logged with its details, the rest of the interval only counted,
and one line per kind gives the count when the interval ends (by timer, by the next event, or by flush)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from screener.service.log_summary import LogSummary

log = logging.getLogger("test.summary")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def messages(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "test.summary"]


def test_first_event_in_full_then_a_count_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="test.summary")
    clock = Clock()
    summary = LogSummary(log, interval_s=10, clock=clock)
    for i in range(500):
        summary.event(logging.WARNING, "blocked", "call %d", i)
        summary.event(logging.ERROR, "spool full")
    assert messages(caplog) == [("WARNING", "blocked: call 0"), ("ERROR", "spool full")]
    clock.now += 10
    summary.event(logging.WARNING, "blocked", "call %d", 500)  # a new interval: the count, then this one
    assert messages(caplog)[2:] == [("WARNING", "blocked: 499 more in the last 10 s"),
                                    ("WARNING", "blocked: call 500")]
    summary.flush()
    assert messages(caplog)[4:] == [("ERROR", "spool full: 499 more in the last 10 s")]
    summary.flush()  # nothing counted since: nothing logged
    assert len(messages(caplog)) == 5


async def test_the_count_is_logged_when_the_interval_ends_even_if_no_event_follows(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="test.summary")
    summary = LogSummary(log, interval_s=0.2)
    for _ in range(3):
        summary.event(logging.WARNING, "overloaded")
    for _ in range(200):
        await asyncio.sleep(0.05)
        if len(messages(caplog)) == 2:
            break
    first, count = (m for _, m in messages(caplog))
    assert first == "overloaded" and count.startswith("overloaded: 2 more in the last")
    summary.event(logging.WARNING, "overloaded")  # the interval ended: logged in full again
    assert messages(caplog)[-1] == ("WARNING", "overloaded")
    summary.flush()
