"""The ARI client against a fake ARI server on loopback: auth, REST, events, reconnect, no leaked secrets."""

from __future__ import annotations

import asyncio
import logging

import pytest

from screener.ari import AriClient, AriError, AriNotFound, Backoff, new_id
from screener.ari.events import Event, Reconnected, StasisStart
from screener.config.settings import Secret
from screener.embedded_redis import free_port
from tests.ari.conftest import FAST
from tests.ari.fake_ari import PASSWORD, USER, FakeAri


async def test_rest_calls_authenticate_with_basic_auth_and_decode_json(fake_ari: FakeAri) -> None:
    await fake_ari.start_call("agent-1", ["12125550101", "lab", "carrier"])
    async with AriClient(fake_ari.url, USER, Secret(PASSWORD), "screener") as client:
        channel = await client.get_channel("agent-1")
        with pytest.raises(AriNotFound):
            await client.get_channel("no-such-channel")
        await client.create_channel("callee-1", "PJSIP/+12125550101@carrier", originator="agent-1",
                                    variables={"CONNECTEDLINE(num,i)": "+12025550144"})
    assert channel["id"] == "agent-1"
    create = fake_ari.made("POST", "channels/create")[0]
    # the "+" of E.164 survives the query string; the id is the client's own
    assert create.query == {"endpoint": "PJSIP/+12125550101@carrier", "app": "screener", "channelId": "callee-1",
                            "originator": "agent-1"}
    assert create.body == {"variables": {"CONNECTEDLINE(num,i)": "+12025550144"}}


async def test_a_wrong_password_is_an_error_that_names_no_credential(fake_ari: FakeAri) -> None:
    async with AriClient(fake_ari.url, USER, Secret("wrong-password"), "screener") as client:
        with pytest.raises(AriError) as info:
            await client.get_channel("x")
    assert info.value.status == 401
    assert "wrong-password" not in str(info.value) and "wrong-password" not in repr(info.value)


def test_new_ids_are_unique_and_url_safe() -> None:
    ids = {new_id("callee") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("screener-callee-") and i.replace("-", "").isalnum() for i in ids)


async def test_events_reach_the_handler_typed_and_in_socket_order(fake_ari: FakeAri) -> None:
    seen: list[Event] = []
    stop = asyncio.Event()
    async with AriClient(fake_ari.url, USER, Secret(PASSWORD), "screener", backoff=FAST) as client:
        task = asyncio.ensure_future(client.run(seen.append, stop))
        await fake_ari.wait_connected()
        await fake_ari.ws.send_str("not json")  # type: ignore[union-attr]
        await fake_ari.ws.send_str('{"no": "type"}')  # type: ignore[union-attr]
        for i in range(50):
            await fake_ari.start_call(f"agent-{i}", [str(i), "lab", "carrier"])
        async with asyncio.timeout(5):
            while len(seen) < 51:
                await asyncio.sleep(0.01)
        stop.set()
        await task
    # first the synthetic "WebSocket open" event, then the 50 calls in order; the junk was skipped
    assert isinstance(seen[0], Reconnected) and seen[0].first
    assert all(isinstance(e, StasisStart) for e in seen[1:])
    assert [e.channel.id for e in seen[1:] if isinstance(e, StasisStart)] == [f"agent-{i}" for i in range(50)]
    assert isinstance(seen[1], StasisStart) and seen[1].args == ("0", "lab", "carrier")


async def test_it_retries_with_backoff_while_refused_then_reconnects_after_a_drop(fake_ari: FakeAri) -> None:
    fake_ari.refuse = 3
    seen: list[Event] = []
    stop = asyncio.Event()
    async with AriClient(fake_ari.url, USER, Secret(PASSWORD), "screener", backoff=FAST) as client:
        task = asyncio.ensure_future(client.run(seen.append, stop))
        await fake_ari.wait_connected(1)
        assert fake_ari.handshakes == 4  # three refusals, then the connection
        assert client.connected.is_set()
        await fake_ari.drop()
        await fake_ari.wait_connected(2)
        async with asyncio.timeout(5):
            while not any(isinstance(e, Reconnected) and not e.first for e in seen):
                await asyncio.sleep(0.01)
        await fake_ari.start_call("after", ["1", "lab", "carrier"])
        async with asyncio.timeout(5):
            while not any(isinstance(e, StasisStart) for e in seen):
                await asyncio.sleep(0.01)
        stop.set()
        await task
    assert not client.connected.is_set()
    assert client.connections == 2


def test_backoff_doubles_up_to_its_cap() -> None:
    b = Backoff(initial_s=0.1, max_s=1.0, factor=2.0, jitter=0.0)
    assert [b.delay(i) for i in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    jittered = Backoff(initial_s=1.0, max_s=1.0, jitter=0.2)
    assert all(0.8 <= jittered.delay(3) <= 1.2 for _ in range(100))


async def test_credentials_never_appear_in_logs(fake_ari: FakeAri, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    stop = asyncio.Event()
    secret = "Very-Secret-Pa55word"
    # a refused password (401), a server that is not there, and a URL that carries credentials itself
    dead_port = free_port()
    clients = [AriClient(fake_ari.url, USER, Secret(secret), "screener", backoff=FAST),
               AriClient(f"http://127.0.0.1:{dead_port}", USER, Secret(secret), "screener", backoff=FAST),
               AriClient(f"http://{USER}:{secret}@127.0.0.1:{dead_port}", USER, Secret(secret), "screener",
                         backoff=FAST)]
    for client in clients:
        async with client:
            before = len(caplog.records)
            task = asyncio.ensure_future(client.run(lambda e: None, stop))
            async with asyncio.timeout(10):  # until this client logged its first failed attempt
                while not any("ARI: " in r.getMessage() and "reconnecting" not in r.getMessage()
                              for r in caplog.records[before:]):
                    await asyncio.sleep(0.01)
            with pytest.raises(AriError) as info:
                await client.get_channel("x")
            assert secret not in str(info.value)
            assert secret not in repr(client) and secret not in str(client.base)
            stop.set()
            await task
            stop.clear()
    text = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records)
    assert "refused the events WebSocket: HTTP 401" in text
    assert "cannot reach" in text
    assert secret not in text
    assert "Basic " not in text
