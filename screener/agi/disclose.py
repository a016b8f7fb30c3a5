"""The ``disclose`` script: on the callee's channel after answer (Dial ``U()`` gosub), before the agent is bridged.

Arguments: ``agi_arg_1`` = the E.164 number, ``agi_arg_2`` = the campaign, ``agi_arg_3`` = the call id
(SCREEN_CALL_ID of the agent's leg), optional ``agi_arg_4`` = the answer time as Unix epoch seconds
(``${EPOCH}`` or a finer value; without it the evidence counts from this AGI session's arrival).

1. ``STREAM FILE <prompt> "<opt-out digit>"``: the campaign's disclosure (``custom/screener/<campaign>-<lang>``
   or the admin recording of its first disclosure language).
2. ``WAIT FOR DIGIT <opt_out_wait_ms>`` for the opt-out digit.
3. Opt-out digit: ``screener.opt_out`` first (Redis acknowledged), then the confirmation
   ``custom/screener/optout-<lang>``, then DISCLOSE_RESULT=OPTOUT and GOSUB_RESULT=ABORT (both legs end).
   No digit: DISCLOSE_RESULT=DONE. Hang-up, missing prompt or unknown campaign: DISCLOSE_RESULT=HANGUP or
   FAILED and GOSUB_RESULT=ABORT (fail closed: the agent is never bridged to a callee who was not told).
4. The evidence (answer→prompt-start ms, prompt finished, opted out) goes to ``screener.record_disclosure``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from enum import StrEnum

from screener.agi import commands
from screener.agi.channel import AgiChannel
from screener.agi.errors import AgiError, UnsafeValueError
from screener.agi.options import ScriptOptions
from screener.decision import Disclosure, DisclosureEvent, clean_campaign
from screener.numbers import clean_dialed, mask
from screener.service.protocol import ScreenerLike

log = logging.getLogger("screener.agi.disclose")


class DiscloseResult(StrEnum):
    #: the prompt played and no opt-out digit came: bridge the agent
    DONE = "DONE"
    #: the callee pressed the opt-out digit
    OPTOUT = "OPTOUT"
    #: the callee hung up (or the channel died) before the disclosure completed
    HANGUP = "HANGUP"
    #: the disclosure could not be played (unknown campaign, missing prompt, protocol trouble)
    FAILED = "FAILED"


@dataclass(frozen=True)
class DiscloseOutcome:
    result: DiscloseResult
    prompt: str
    language: str
    answer_to_prompt_ms: int | None
    prompt_finished: bool
    opted_out: bool
    #: True when Redis acknowledged the opt-out
    opt_out_recorded: bool = False


def answer_epoch(value: str) -> float | None:
    """``agi_arg_4``: the answer time as Unix epoch seconds (fractions allowed), when plausible (last hour)."""
    try:
        epoch = float(value)
    except ValueError:
        return None
    now = time.time()
    return epoch if now - 3600 <= epoch <= now + 5 else None


class _Disclosure:
    def __init__(self, channel: AgiChannel, screener: ScreenerLike, options: ScriptOptions, arrived: float) -> None:
        self.channel = channel
        self.screener = screener
        self.options = options
        self.arrived = arrived
        env = channel.env
        self.number = clean_dialed(env.arg(1))
        self.campaign_name = clean_campaign(env.arg(2))
        self.call_id = commands.sanitize(env.arg(3), max_chars=64) or commands.sanitize(env.uniqueid, max_chars=64)
        self.answered_at = answer_epoch(env.arg(4))

    async def run(self) -> DiscloseOutcome:
        try:
            disclosure = self.screener.disclosure(self.campaign_name)
        except Exception:  # the screener may not have loaded its config: fail closed
            log.exception("disclose: the screener could not say what to disclose")
            disclosure = None
        if disclosure is None:
            log.error("disclose: unknown campaign %r: call aborted", self.campaign_name)
            outcome = DiscloseOutcome(DiscloseResult.FAILED, "", "", None, False, False)
            await self._finish(outcome)
            return outcome
        prompt, language = disclosure.prompt, disclosure.language
        try:
            outcome = await self._play(disclosure)
        except UnsafeValueError:
            log.error("disclose: unsafe prompt name %r in campaign %s: call aborted", prompt, self.campaign_name)
            outcome = DiscloseOutcome(DiscloseResult.FAILED, prompt, language, None, False, False)
        except AgiError as exc:
            log.warning("disclose %s: session ended early: %s", mask(self.number), exc)
            outcome = DiscloseOutcome(DiscloseResult.HANGUP, prompt, language, None, False, False)
        await self._finish(outcome)
        return outcome

    async def _play(self, disclosure: Disclosure) -> DiscloseOutcome:
        prompt, language, digit = disclosure.prompt, disclosure.language, disclosure.opt_out_digit
        command = commands.stream_file(prompt, digit)
        started_ms = self._answer_to_prompt_ms()
        reply = await self.channel.execute(command, timeout_s=self.options.prompt_timeout_s)
        pressed = reply.digit
        finished = reply.ok and reply.result == "0" and not self.channel.hung_up
        if not reply.ok or reply.result_int is None or reply.result_int < 0 or self.channel.hung_up:
            # -1 means a missing file or a hang-up; the HANGUP notice, if any, comes before the next reply
            if not self.channel.hung_up and reply.code != 511:
                await self.channel.execute(commands.noop(), timeout_s=self.options.reply_timeout_s)
            result = DiscloseResult.HANGUP if self.channel.hung_up or reply.code == 511 else DiscloseResult.FAILED
            log.warning("disclose %s: prompt %s not played (%d result=%s)", mask(self.number), prompt,
                        reply.code, reply.result)
            return DiscloseOutcome(result, prompt, language, started_ms, False, False)
        if pressed != digit:
            pressed = await self._wait_for(digit)
        if pressed is None:
            return DiscloseOutcome(DiscloseResult.HANGUP, prompt, language, started_ms, finished, False)
        if pressed == digit:
            recorded = await self._opt_out(disclosure)
            return DiscloseOutcome(DiscloseResult.OPTOUT, prompt, language, started_ms, finished, True, recorded)
        return DiscloseOutcome(DiscloseResult.DONE, prompt, language, started_ms, finished, False)

    def _answer_to_prompt_ms(self) -> int:
        """From answer (the dialplan's answer time when it passed one, else this session's arrival) to now."""
        if self.answered_at is not None:
            return max(0, int((time.time() - self.answered_at) * 1000))
        return int((time.monotonic() - self.arrived) * 1000)

    async def _wait_for(self, digit: str) -> str | None:
        """The opt-out digit, "" when the window closed without it, None on hang-up."""
        deadline = time.monotonic() + self.options.opt_out_wait_ms / 1000
        remaining_ms = self.options.opt_out_wait_ms
        while True:
            if remaining_ms <= 0:
                return ""
            reply = await self.channel.execute(
                commands.wait_for_digit(remaining_ms), timeout_s=remaining_ms / 1000 + self.options.reply_timeout_s
            )
            if not reply.ok or (reply.result_int or 0) < 0 or self.channel.hung_up:
                return None
            pressed = reply.digit
            if pressed is None or pressed == digit:
                return pressed or ""
            remaining_ms = int((deadline - time.monotonic()) * 1000)

    async def _opt_out(self, disclosure: Disclosure) -> bool:
        """Record the opt-out (acknowledged by Redis) before anything else, then confirm to the callee."""
        campaign = self.campaign_name
        try:
            async with asyncio.timeout(self.options.opt_out_timeout_s):
                await self.screener.opt_out(self.number, campaign, source="fastagi-disclose",
                                            call_id=self.call_id or None)
        except Exception:
            log.critical(
                "OPT-OUT NOT RECORDED for %s campaign %s (call %s): the call is ended anyway; add it by hand "
                "with `screener dnc add`", mask(self.number), campaign, self.call_id, exc_info=True,
            )
            return False
        log.info("opt-out recorded for %s campaign %s (call %s)", mask(self.number), campaign, self.call_id)
        if not self.channel.hung_up:
            try:
                await self.channel.execute(commands.stream_file(disclosure.optout_prompt, ""),
                                           timeout_s=self.options.prompt_timeout_s)
            except AgiError as exc:
                log.warning("opt-out confirmation not played: %s", exc)
        return True

    async def _finish(self, outcome: DiscloseOutcome) -> None:
        """Set the variables (DISCLOSE_RESULT; GOSUB_RESULT=ABORT unless DONE), then record the evidence."""
        try:
            await self.channel.execute(
                commands.set_variable("DISCLOSE_RESULT", outcome.result.value), timeout_s=self.options.reply_timeout_s
            )
            if outcome.result is not DiscloseResult.DONE:
                await self.channel.execute(
                    commands.set_variable("GOSUB_RESULT", "ABORT"), timeout_s=self.options.reply_timeout_s
                )
        except AgiError as exc:
            log.warning("disclose %s: result variables not set (%s): the dialplan aborts", mask(self.number), exc)
        log.info("disclose %s campaign=%s -> %s (prompt %s, %s ms, finished=%s)", mask(self.number),
                 self.campaign_name or "-", outcome.result.value, outcome.prompt or "-",
                 outcome.answer_to_prompt_ms, outcome.prompt_finished)
        event = DisclosureEvent(
            number=self.number, campaign=self.campaign_name, call_id=self.call_id or None,
            answer_to_prompt_ms=outcome.answer_to_prompt_ms, prompt_finished=outcome.prompt_finished,
            opted_out=outcome.opted_out, language=outcome.language, source=self.options.source,
        )
        try:
            async with asyncio.timeout(self.options.record_timeout_s):
                await self.screener.record_disclosure(event)
        except Exception:
            log.exception("disclosure evidence for %s (call %s) not recorded", mask(self.number), self.call_id)


async def run_disclose(
    channel: AgiChannel, screener: ScreenerLike, options: ScriptOptions, *, arrived: float | None = None
) -> DiscloseOutcome:
    """Run the disclosure; ``arrived`` is the monotonic time the AGI session arrived (≈ answer)."""
    return await _Disclosure(channel, screener, options, time.monotonic() if arrived is None else arrived).run()
