"""ConfigHolder: reload valid edits, refuse invalid ones (keeping the old config), SIGHUP, file watching."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import pytest
from config_files import MAIN, PRESET, write_config

from screener.config.errors import ConfigError
from screener.config.settings import Settings
from screener.config.watch import ConfigHolder, ReloadResult

EDITED = MAIN.replace('purpose = "a test"', 'purpose = "an edited test"')


def test_initial_load_and_current(tmp_path: Path) -> None:
    holder = ConfigHolder(write_config(tmp_path))
    assert holder.current.campaigns["sales"].purpose == "a test"


def test_bad_initial_config_raises(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        ConfigHolder(write_config(tmp_path, main=MAIN + "\n[oops\n"))


def test_given_settings_are_used(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    holder = ConfigHolder(path)
    other = ConfigHolder(path, holder.current)
    assert other.current is holder.current


def test_valid_reload_picks_up_the_change(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    holder = ConfigHolder(path)
    old = holder.current.version
    seen: list[Settings] = []
    holder.add_listener(seen.append)
    write_config(tmp_path, main=EDITED)
    result = holder.reload()
    assert result == ReloadResult(ok=True, version=holder.current.version, error=None, changed=True)
    assert result.version != old
    assert holder.current.campaigns["sales"].purpose == "an edited test"
    assert seen == [holder.current]
    # reloading the same files again changes nothing
    assert holder.reload() == ReloadResult(True, result.version, None, False)
    assert len(seen) == 1


def test_edit_of_an_included_preset_is_a_new_version(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    holder = ConfigHolder(path)
    old = holder.current.version
    write_config(tmp_path, preset=PRESET.replace('weekdays = "09:00-20:00"', 'weekdays = "09:00-19:00"'))
    result = holder.reload()
    assert result.changed and result.version != old


INVALID = [
    ("broken toml", MAIN + "\n[campaigns.sales\n", PRESET, "", "invalid TOML"),
    ("unknown key", MAIN.replace('region = "US"', 'region = "US"\nregoin = "US"'), PRESET,
     "campaigns.sales.regoin", "unknown key"),
    ("bad range", MAIN, PRESET.replace('weekdays = "09:00-20:00"', 'weekdays = "09:00-20:60"'),
     "policies.basic.hours.weekdays", "not a time of day"),
]  # fmt: skip


@pytest.mark.parametrize(("main", "preset", "key", "words"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_edit_is_refused_and_the_old_config_stays(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, main: str, preset: str, key: str, words: str
) -> None:
    path = write_config(tmp_path)
    holder = ConfigHolder(path)
    before = holder.current
    write_config(tmp_path, main=main, preset=preset)
    with caplog.at_level(logging.ERROR, logger="screener.config"):
        result = holder.reload()
    assert not result.ok and not result.changed
    assert result.version == before.version
    assert result.error is not None and result.error.key == key and words in result.error.problem
    assert holder.current is before
    (record,) = [r for r in caplog.records if r.name == "screener.config"]
    message = record.getMessage()
    assert "refused" in message and words in message
    assert (key or "-") in message
    assert result.error.file in message


async def _until(condition: object, timeout_s: float = 10.0) -> None:
    """Wait for ``condition()`` (a generous timeout that only proves it does not hang)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


async def test_sighup_reloads(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    holder = ConfigHolder(path)
    old = holder.current.version
    loop = asyncio.get_running_loop()
    holder.install_sighup(loop)
    try:
        write_config(tmp_path, main=EDITED)
        os.kill(os.getpid(), signal.SIGHUP)
        await _until(lambda: holder.current.version != old)
        assert holder.current.campaigns["sales"].purpose == "an edited test"
    finally:
        loop.remove_signal_handler(signal.SIGHUP)


async def test_sighup_with_an_invalid_edit_keeps_the_old_config(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    holder = ConfigHolder(path)
    before = holder.current
    results: list[ReloadResult] = []
    original = holder.reload

    def recording_reload() -> ReloadResult:
        results.append(original())
        return results[-1]

    holder.reload = recording_reload  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    holder.install_sighup(loop)
    try:
        write_config(tmp_path, main=MAIN + "\n[oops\n")
        os.kill(os.getpid(), signal.SIGHUP)
        await _until(lambda: bool(results))
        assert not results[0].ok
        assert holder.current is before
    finally:
        loop.remove_signal_handler(signal.SIGHUP)


async def test_watch_reloads_on_change_and_refuses_bad_edits(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    holder = ConfigHolder(path)
    first = holder.current.version
    task = asyncio.create_task(holder.watch(interval_s=0.02))
    try:
        write_config(tmp_path, main=EDITED)
        await _until(lambda: holder.current.version != first)
        second = holder.current.version
        # an invalid preset edit: refused, the running config stays
        write_config(tmp_path, main=EDITED, preset=PRESET.replace("max_calls = 3", "max_calls = 0"))
        await asyncio.sleep(0.2)
        assert holder.current.version == second
        # fixed: picked up
        write_config(tmp_path, main=EDITED, preset=PRESET.replace("max_calls = 3", "max_calls = 2"))
        await _until(lambda: holder.current.version != second)
        assert holder.current.policies["basic"].rules.frequency[0].max_calls == 2
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


NO_CAMPAIGNS = MAIN.split("[campaigns.sales]")[0]


@pytest.mark.parametrize("main", ["", "\n# all commented out\n", NO_CAMPAIGNS],
                         ids=["empty", "comments", "no campaigns"])
def test_reload_refuses_a_config_without_campaigns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, main: str
) -> None:
    path = write_config(tmp_path)
    holder = ConfigHolder(path)
    before = holder.current
    path.write_text(main)
    with caplog.at_level(logging.ERROR, logger="screener.config"):
        result = holder.reload()
    assert not result.ok and result.version == before.version
    assert result.error is not None and result.error.key == "campaigns" and "no campaign" in result.error.problem
    assert holder.current is before and holder.current.audit_salt.value == "s3cret-salt"
    assert holder.stats["reload_failures"] == 1
    (record,) = [r for r in caplog.records if r.name == "screener.config"]
    assert "refused" in record.getMessage() and str(path) in record.getMessage()


async def test_watch_refuses_an_empty_file_counts_it_and_takes_the_next_good_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_config(tmp_path)
    holder = ConfigHolder(path)
    before = holder.current
    task = asyncio.create_task(holder.watch(interval_s=0.02))
    try:
        with caplog.at_level(logging.ERROR, logger="screener.config"):
            path.write_text("")
            await _until(lambda: holder.stats["reload_failures"] == 1)
            assert holder.current is before
            assert any("refused" in r.getMessage() and "campaigns" in r.getMessage() for r in caplog.records)
            write_config(tmp_path, main=EDITED)
            await _until(lambda: holder.current.version != before.version)
        assert holder.current.campaigns["sales"].purpose == "an edited test"
        assert holder.stats["reload_failures"] == 1
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_watch_waits_for_a_truncate_then_write_save_to_settle(tmp_path: Path) -> None:
    """An editor's save: truncate, write part, write the rest; the watcher polls in between each step and must
    read none of the half-saved states (each would be refused, or worse), only the settled file."""
    path = write_config(tmp_path)
    holder = ConfigHolder(path)
    before = holder.current
    task = asyncio.create_task(holder.watch(interval_s=0.02))

    async def one_poll() -> None:
        polls = holder.stats["polls"]
        await _until(lambda: holder.stats["polls"] > polls)

    try:
        await one_poll()
        data = EDITED.encode()
        with open(path, "r+b") as f:
            f.truncate(0)
            f.flush()
            await one_poll()  # it saw the empty file
            f.write(data[: len(data) // 2])
            f.flush()
            await one_poll()  # it saw the half-written file
            f.write(data[len(data) // 2:])
        await _until(lambda: holder.current.version != before.version)
        assert holder.current.campaigns["sales"].purpose == "an edited test"
        assert holder.stats == {"reloads": 1, "reload_failures": 0, "polls": holder.stats["polls"]}
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_holder_keeps_the_last_reload(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    holder = ConfigHolder(path)
    assert holder.last_reload is None and holder.stats["reload_failures"] == 0
    write_config(tmp_path, main=MAIN + "\n[oops\n")
    refused = holder.reload()
    assert holder.last_reload == refused and not refused.ok and refused.at > 0
    assert holder.stats["reload_failures"] == 1
    write_config(tmp_path, main=EDITED)
    assert holder.reload().changed and holder.last_reload is not None and holder.last_reload.ok
    assert holder.stats["reload_failures"] == 1


INTERNAL_CHANGES = [
    ("renamed", MAIN.replace("[lists.internal]", "[lists.opt-outs]"), "removed (or renamed)"),
    ("kind changed", MAIN.replace('[lists.internal]\nkind = "internal"',
                                  '[lists.internal]\nkind = "campaign"\n\n[lists.complaints]\nkind = "internal"'),
     'changed to kind "campaign"'),
]  # fmt: skip


@pytest.mark.parametrize(("main", "words"), [c[1:] for c in INTERNAL_CHANGES], ids=[c[0] for c in INTERNAL_CHANGES])
def test_reload_refuses_to_drop_the_running_internal_list(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, main: str, words: str
) -> None:
    """The opt-outs stay in Redis under the old list's name: a config that no longer has it as an internal list
    would let every opted-out number be called. The new file is valid on its own (a fresh start takes it)."""
    path = write_config(tmp_path)
    holder = ConfigHolder(path)
    before = holder.current
    path.write_text(main)
    with caplog.at_level(logging.ERROR, logger="screener.config"):
        result = holder.reload()
    assert not result.ok and holder.current is before
    assert result.error is not None and result.error.key == "lists.internal" and result.error.file == str(path)
    assert words in result.error.problem and "opt-outs" in result.error.problem
    assert holder.stats["reload_failures"] == 1
    assert any("refused" in r.getMessage() and "lists.internal" in r.getMessage() for r in caplog.records)
    assert ConfigHolder(path).current.campaigns  # valid on its own: only the switch is refused
