"""The ``screen`` script: decide one outbound call, then set the dialplan variables (SCREEN_RESULT last).

Arguments: ``agi_arg_1`` = the dialed number (the dialplan filters EXTEN to digits and ``+``),
``agi_arg_2`` = the campaign (optional: when empty, the channel variable ``SCREENER_CAMPAIGN``).

Variables set, in this order: SCREEN_REASONS, SCREEN_NUMBER, SCREEN_CALLERID, SCREEN_CALLERID_NAME,
SCREEN_CAMPAIGN, SCREEN_CALL_ID, and last SCREEN_RESULT (ALLOW or BLOCK). A screener that raises or
answers too late gives BLOCK with screening_unavailable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from screener.agi import commands
from screener.agi.channel import AgiChannel
from screener.agi.options import ScriptOptions
from screener.decision import Decision, ScreenRequest, clean_campaign
from screener.logs import call_fields
from screener.numbers import clean_dialed, mask
from screener.service.protocol import ScreenerLike, screen_or_block

log = logging.getLogger("screener.agi.screen")


@dataclass(frozen=True)
class ScreenVariables:
    """The dialplan variables of one screened call (all strings, safe to send)."""

    result: str
    reasons: str
    number: str
    callerid: str
    callerid_name: str
    campaign: str
    call_id: str

    def to_commands(self) -> list[commands.Command]:
        return [
            commands.set_variable("SCREEN_REASONS", self.reasons),
            commands.set_variable("SCREEN_NUMBER", self.number),
            commands.set_variable("SCREEN_CALLERID", self.callerid),
            commands.set_variable("SCREEN_CALLERID_NAME", self.callerid_name),
            commands.set_variable("SCREEN_CAMPAIGN", self.campaign),
            commands.set_variable("SCREEN_CALL_ID", self.call_id),
            commands.set_variable("SCREEN_RESULT", self.result),  # last: the dialplan acts on it
        ]


def variables_for(decision: Decision, request: ScreenRequest) -> ScreenVariables:
    return ScreenVariables(
        result="ALLOW" if decision.allowed else "BLOCK",
        reasons=",".join(code.value for code in decision.codes),
        number=clean_dialed(decision.number),
        callerid=clean_dialed(decision.caller_id or ""),
        callerid_name=commands.sanitize(decision.caller_id_name or "", max_chars=80),
        campaign=clean_campaign(request.campaign),
        call_id=commands.sanitize(request.call_id or "", max_chars=64),
    )


async def campaign_of(channel: AgiChannel, options: ScriptOptions) -> str:
    """``agi_arg_2``, else the channel variable SCREENER_CAMPAIGN, else ""."""
    arg = clean_campaign(channel.env.arg(2))
    if arg:
        return arg
    reply = await channel.execute(commands.get_variable("SCREENER_CAMPAIGN"), timeout_s=options.reply_timeout_s)
    if reply.ok and reply.result == "1" and reply.data:
        return clean_campaign(reply.data)
    return ""


async def run_screen(channel: AgiChannel, screener: ScreenerLike, options: ScriptOptions) -> ScreenVariables:
    env = channel.env
    campaign = await campaign_of(channel, options)
    request = ScreenRequest(
        dialed=clean_dialed(env.arg(1)),
        campaign=campaign,
        commit=True,
        caller_id=commands.sanitize(env.callerid, max_chars=64) or None,
        source=options.source,
        call_id=commands.sanitize(env.uniqueid, max_chars=64) or None,
        agent=commands.sanitize(env.channel, max_chars=128) or None,
        problem=" and ".join(env.problems)[:300],
    )
    decision = await screen_or_block(screener, request, options.decision_timeout_s)
    variables = variables_for(decision, request)
    log.info(
        "screen %s campaign=%s -> %s %s (call %s)",
        mask(variables.number), variables.campaign or "-", variables.result, variables.reasons or "-",
        variables.call_id or "-",
        extra=call_fields(call_id=variables.call_id, campaign=variables.campaign, verdict=decision.verdict.value,
                          reasons=[code.value for code in decision.codes], number=mask(variables.number)),
    )
    for command in variables.to_commands():
        reply = await channel.execute(command, timeout_s=options.reply_timeout_s)
        if not reply.ok:
            log.warning("%s answered %d %s", command.line.split('"')[0].strip(), reply.code, reply.text)
    return variables
