"""cancel_and_wait ends a task even when a cancellation is lost (as redis-py 8 sometimes loses one)."""

from __future__ import annotations

import asyncio

from screener.service.tasks import cancel_and_wait


async def test_a_task_that_swallows_one_cancel_still_ends() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            swallowed += 1  # lost, as a cancel landing mid-command in redis-py can be
        await asyncio.sleep(60)

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    assert await cancel_and_wait(task, timeout_s=10)
    assert task.cancelled() and swallowed == 1


async def test_a_task_that_does_not_end_is_reported() -> None:
    ignoring = True

    async def deaf() -> None:
        while True:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                if not ignoring:
                    raise

    task = asyncio.create_task(deaf())
    await asyncio.sleep(0)
    assert not await cancel_and_wait(task, timeout_s=0.3)
    assert not task.done()
    ignoring = False
    assert await cancel_and_wait(task, timeout_s=10)
