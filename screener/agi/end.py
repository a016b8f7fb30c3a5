"""The ``end`` script: the dialplan's ``h`` extension reports that an allowed call ended.

Arguments: ``agi_arg_1`` = the call id (SCREEN_CALL_ID), ``agi_arg_2`` = the campaign (SCREEN_CAMPAIGN). The
call no longer counts among its campaign's calls in progress (``max_concurrent_calls``). Then, when the callee
answered, arguments 3-9 describe how (``answered.py``): the answered call is counted for its campaign's
abandoned-call rate. No command is sent: the channel is already hung up. Any screener may be told (the counts
are in Redis).
"""

from __future__ import annotations

import asyncio
import logging

from screener.agi import commands
from screener.agi.answered import answered_call
from screener.agi.channel import AgiChannel
from screener.agi.options import ScriptOptions
from screener.decision import clean_campaign
from screener.numbers import mask
from screener.service.protocol import ScreenerLike

log = logging.getLogger("screener.agi.end")


async def run_end(channel: AgiChannel, screener: ScreenerLike, options: ScriptOptions) -> None:
    env = channel.env
    call_id = commands.sanitize(env.arg(1), max_chars=64)
    campaign = clean_campaign(env.arg(2))
    if not call_id or not campaign:
        log.warning("end: no call id or campaign (%r, %r): nothing to release", call_id, campaign)
    else:
        await screener.call_ended(call_id, campaign)
        log.debug("end of call %s (%s)", call_id, campaign)
    answered = answered_call([env.arg(3), env.arg(2), env.arg(1), *(env.arg(n) for n in range(4, 10))],
                             options.source)
    if answered is None:
        return
    try:
        async with asyncio.timeout(options.record_timeout_s):
            await screener.record_answered_call(answered)
    except Exception:
        log.exception("answered call of %s (%s, call %s) not counted", mask(answered.number), answered.campaign,
                      answered.call_id)
