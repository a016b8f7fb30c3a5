"""The shipped dialplan fails closed: a stopped screener or one slower than its budget blocks the call (403)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from screener.embedded_redis import EmbeddedRedis, free_port
from tests.e2e.harness import Lab, ServerProcess, write_config

#: generous: proves "answered, not hung" without depending on machine speed
NOT_HUNG_S = 15.0


@pytest.fixture
def own_server(lab: Lab, private_redis: EmbeddedRedis, tmp_path: Path) -> Iterator[ServerProcess]:
    """A ``screener serve`` of the test's own (on its own Redis), and the sandbox's SCREENER_AGI pointed at it."""
    port = free_port()
    server = ServerProcess(write_config(tmp_path, agi_port=port), private_redis.url, port, tmp_path / "serve.log")
    server.start()
    lab.sandbox.set_global("SCREENER_AGI", f"127.0.0.1:{port}")
    yield server
    private_redis.resume()
    server.stop()


def test_a_stopped_screener_blocks_the_call_with_403_and_the_carrier_never_sees_an_invite(
        lab: Lab, own_server: ServerProcess) -> None:
    reachable = lab.call("12125550111", callee="uas_ring_busy.xml")
    assert reachable.result.final_status == 486, "the screener under test should allow this call first"

    assert own_server.stop() == 0
    call = lab.call("12125550112")

    assert call.result.final_status == 403, call.result.output
    assert call.carrier_invites == 0


def test_a_screener_slower_than_its_budget_blocks_the_call_and_does_not_hang_it(
        lab: Lab, own_server: ServerProcess, private_redis: EmbeddedRedis) -> None:
    reachable = lab.call("12125550113", callee="uas_ring_busy.xml")
    assert reachable.result.final_status == 486, "the screener under test should allow this call first"

    private_redis.pause()  # Redis accepts connections but answers nothing: the 150 ms budget runs out
    call = lab.call("12125550114", timeout_s=NOT_HUNG_S)
    private_redis.resume()

    assert call.result.final_status == 403, call.result.output
    assert call.carrier_invites == 0
    sent, blocked = call.result.invite_sent_at, call.result.received_at(403)
    assert sent is not None and blocked is not None and blocked - sent < NOT_HUNG_S
    assert own_server.running


def test_a_frozen_screener_blocks_the_call_after_the_dialplan_guard_and_does_not_hang_it(
        lab: Lab, own_server: ServerProcess) -> None:
    # Asterisk never times out a FastAGI server; the shipped dialplan's absolute timeout (3 s) does
    assert own_server.proc is not None
    own_server.signal_all(signal.SIGSTOP)  # serve and its workers: still accepting (the kernel's backlog)
    try:
        call = lab.call("12125550115", timeout_s=NOT_HUNG_S)
    finally:
        own_server.signal_all(signal.SIGCONT)

    assert call.result.final_status == 403, call.result.output
    assert call.carrier_invites == 0
    sent, blocked = call.result.invite_sent_at, call.result.received_at(403)
    assert sent is not None and blocked is not None and blocked - sent < NOT_HUNG_S
