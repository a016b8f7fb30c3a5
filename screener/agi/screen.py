"""The ``screen`` script: decide one outbound call, then set the dialplan variables (SCREEN_RESULT last).

Arguments: ``agi_arg_1`` = the dialed number (the dialplan filters EXTEN to digits and ``+``),
``agi_arg_2`` = the campaign (optional: when empty, the channel variable ``SCREENER_CAMPAIGN``).

Variables set, in this order: SCREEN_REASONS, SCREEN_NUMBER, SCREEN_CALLERID, SCREEN_CALLERID_NAME,
SCREEN_CAMPAIGN, SCREEN_CALL_ID, and last SCREEN_RESULT (ALLOW or BLOCK). A screener that raises or
answers too late gives BLOCK with screening_unavailable.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from screener.agi import encode
from screener.agi.contract import AgiChannel, ScreenerLike, ScriptOptions
from screener.agi.masking import mask
from screener.config.settings import Settings
from screener.decision import Decision, Reason, ScreenRequest
from screener.logs import call_fields
from screener.reasons import ReasonCode, Verdict

log = logging.getLogger("screener.agi.screen")

_DIALED = re.compile(r"[^0-9+*#]")
_CAMPAIGN = re.compile(r"[^A-Za-z0-9_.:-]")


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

    def commands(self) -> list[encode.Command]:
        return [
            encode.set_variable("SCREEN_REASONS", self.reasons),
            encode.set_variable("SCREEN_NUMBER", self.number),
            encode.set_variable("SCREEN_CALLERID", self.callerid),
            encode.set_variable("SCREEN_CALLERID_NAME", self.callerid_name),
            encode.set_variable("SCREEN_CAMPAIGN", self.campaign),
            encode.set_variable("SCREEN_CALL_ID", self.call_id),
            encode.set_variable("SCREEN_RESULT", self.result),  # last: the dialplan acts on it
        ]


def clean_dialed(value: str) -> str:
    """The dialed number as the screener may see it: digits, ``+``, ``*``, ``#`` only, at most 32."""
    return _DIALED.sub("", value)[:32]


def clean_campaign(value: str) -> str:
    return _CAMPAIGN.sub("", value)[:64]


def unavailable(request: ScreenRequest, detail: str) -> Decision:
    """The front end's own fail-closed decision when the screener raised or was too slow."""
    return Decision(
        verdict=Verdict.BLOCK,
        reasons=(Reason(ReasonCode.SCREENING_UNAVAILABLE, detail),),
        number=request.dialed,
        campaign=request.campaign,
        decided_at=datetime.now(UTC),
        config_version="",
        dry_run=False,
    )


def variables_for(decision: Decision, request: ScreenRequest, settings: Settings | None) -> ScreenVariables:
    campaign = settings.campaigns.get(request.campaign) if settings is not None else None
    allowed = decision.verdict is Verdict.ALLOW
    callerid = decision.caller_id or (campaign.caller_id if campaign else "")
    return ScreenVariables(
        result="ALLOW" if allowed else "BLOCK",
        reasons=",".join(code.value for code in decision.codes),
        number=clean_dialed(decision.number),
        callerid=clean_dialed(callerid),
        callerid_name=encode.sanitize(campaign.company if campaign else "", max_chars=80),
        campaign=clean_campaign(request.campaign),
        call_id=encode.sanitize(request.call_id or "", max_chars=64),
    )


async def campaign_of(channel: AgiChannel, options: ScriptOptions) -> str:
    """``agi_arg_2``, else the channel variable SCREENER_CAMPAIGN, else ""."""
    arg = clean_campaign(channel.env.arg(2))
    if arg:
        return arg
    reply = await channel.execute(encode.get_variable("SCREENER_CAMPAIGN"), timeout_s=options.reply_timeout_s)
    if reply.ok and reply.result == "1" and reply.data:
        return clean_campaign(reply.data)
    return ""


def current_settings(screener: ScreenerLike) -> Settings | None:
    try:
        return screener.settings
    except Exception:  # the screener may not have loaded its config: the decision still fails closed
        log.exception("screener settings unavailable")
        return None


async def decide(screener: ScreenerLike, request: ScreenRequest, timeout_s: float) -> Decision:
    """Ask the screener, with a deadline; any failure is a block (screening_unavailable)."""
    try:
        async with asyncio.timeout(timeout_s):
            return await screener.screen(request)
    except TimeoutError:
        log.error("screening %s took longer than %.3f s: blocked", mask(request.dialed), timeout_s)
        return unavailable(request, f"no decision within {timeout_s:g} s")
    except Exception as exc:
        log.exception("screening %s failed: blocked", mask(request.dialed))
        return unavailable(request, f"screener error: {type(exc).__name__}")


async def run_screen(channel: AgiChannel, screener: ScreenerLike, options: ScriptOptions) -> ScreenVariables:
    env = channel.env
    campaign = await campaign_of(channel, options)
    request = ScreenRequest(
        dialed=clean_dialed(env.arg(1)),
        campaign=campaign,
        commit=True,
        caller_id=encode.sanitize(env.callerid, max_chars=64) or None,
        source=options.source,
        call_id=encode.sanitize(env.uniqueid, max_chars=64) or None,
        agent=encode.sanitize(env.channel, max_chars=128) or None,
    )
    settings = current_settings(screener)
    decision = await decide(screener, request, options.decision_timeout(settings))
    variables = variables_for(decision, request, settings)
    log.info(
        "screen %s campaign=%s -> %s %s (call %s)",
        mask(variables.number), variables.campaign or "-", variables.result, variables.reasons or "-",
        variables.call_id or "-",
        extra=call_fields(call_id=variables.call_id, campaign=variables.campaign, verdict=decision.verdict.value,
                          reasons=[code.value for code in decision.codes], number=mask(variables.number)),
    )
    for command in variables.commands():
        reply = await channel.execute(command, timeout_s=options.reply_timeout_s)
        if not reply.ok:
            log.warning("%s answered %d %s", command.line.split('"')[0].strip(), reply.code, reply.text)
    return variables
