"""The ``end`` script: the dialplan's ``h`` extension reports that an allowed call ended.

Arguments: ``agi_arg_1`` = the call id (SCREEN_CALL_ID), ``agi_arg_2`` = the campaign (SCREEN_CAMPAIGN). The
call no longer counts among its campaign's calls in progress (``max_concurrent_calls``). No command is sent:
the channel is already hung up. Any screener may be told (the count is in Redis).
"""

from __future__ import annotations

import logging

from screener.agi import commands
from screener.agi.channel import AgiChannel
from screener.decision import clean_campaign
from screener.service.protocol import ScreenerLike

log = logging.getLogger("screener.agi.end")


async def run_end(channel: AgiChannel, screener: ScreenerLike) -> None:
    call_id = commands.sanitize(channel.env.arg(1), max_chars=64)
    campaign = clean_campaign(channel.env.arg(2))
    if not call_id or not campaign:
        log.warning("end: no call id or campaign (%r, %r): nothing to release", call_id, campaign)
        return
    await screener.call_ended(call_id, campaign)
    log.debug("end of call %s (%s)", call_id, campaign)
