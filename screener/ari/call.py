"""One call through the Stasis application: screen, block or dial, disclose, opt out or bridge, tear down.

Each call owns one asyncio queue and one task; the app routes every event of the call's channels into the
queue in WebSocket order, so the call sees its events one at a time and in order. The flow is linear
code: each step awaits REST calls, then waits for the events it needs, with a deadline on every wait.
Whatever happens (hang-up, error, cancellation), ``_teardown`` hangs up the legs still alive and destroys
the bridge: no channel or bridge is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from screener.ari.client import AriClient, AriError, new_id
from screener.ari.events import (
    ChannelDtmfReceived,
    ChannelStateChange,
    Dial,
    Event,
    PlaybackEvent,
    StasisStart,
)
from screener.ari.legs import Ended, Legs, Outcome
from screener.ari.options import AppOptions
from screener.decision import AnsweredCall, Decision, Disclosure, DisclosureEvent, ScreenRequest, clean_campaign
from screener.logs import call_fields
from screener.numbers import clean_dialed, mask
from screener.reasons import ReasonCode
from screener.service.protocol import ScreenerLike, screen_or_block

log = logging.getLogger("screener.ari.call")

#: Dial statuses that end the attempt, and the hang-up reason the agent gets for each
_DIAL_FAILURES = {"BUSY": "busy", "NOANSWER": "no_answer", "CONGESTION": "congestion",
                  "CHANUNAVAIL": "congestion", "CANCEL": "normal"}


@dataclass(frozen=True)
class CallArgs:
    """The Stasis arguments: Stasis(app,<number>,<campaign>,<trunk>), filtered again here."""

    number: str
    campaign: str
    trunk: str

    @classmethod
    def parse(cls, start: StasisStart) -> CallArgs:
        args = [*start.args, "", "", ""]
        number = clean_dialed(args[0]) or clean_dialed(start.channel.dialplan_exten)
        return cls(number=number, campaign=clean_campaign(args[1]), trunk=clean_campaign(args[2]))


class Call(Legs):
    """The state machine of one call (the agent's channel that entered Stasis, and the callee leg it creates)."""

    def __init__(self, start: StasisStart, client: AriClient, screener: ScreenerLike, options: AppOptions,
                 register: Callable[[str, Call], None], unregister: Callable[[str], None]) -> None:
        super().__init__(start.channel, client, options, unregister)
        self.args = CallArgs.parse(start)
        self.screener = screener
        self._register = register
        self.playback_id: str | None = None
        self.outcome: Outcome | None = None
        self.decision: Decision | None = None
        self._evidence: DisclosureEvent | None = None
        #: the abandoned-call accounting: when the callee answered, how the disclosure ended and when, when the
        #: agent was connected (wall clock)
        self._answered_wall: datetime | None = None
        self._disclosure_result: str | None = None
        self._handed_over_at: datetime | None = None
        self._connected_at: datetime | None = None
        self._released = False
        register(self.agent.id, self)

    @property
    def label(self) -> str:
        return f"{mask(self.args.number) or '-'} ({self.args.campaign or '-'}, {self.agent.id})"

    async def _teardown(self) -> None:
        await self._record_evidence()
        await self._record_answered()
        await self._release()
        await super()._teardown()

    async def _release(self) -> None:
        """An allowed call ended: it no longer counts among its campaign's calls in progress."""
        decision = self.decision
        if decision is None or not decision.allowed or decision.attempt_id is None or self._released:
            return
        self._released = True
        try:
            await self.screener.call_ended(self.agent.id, decision.campaign)
        except Exception:
            log.exception("call %s: its end was not recorded (it counts until its lease ends)", self.label)

    # -- the flow --------------------------------------------------------------------------------------

    async def run(self) -> Outcome:
        try:
            self.outcome = await self._flow()
        except Ended as ended:
            self.outcome = ended.outcome
        except AriError as exc:
            self.outcome = Outcome.AGENT_HUNG_UP if self.agent.id in self.gone else Outcome.FAILED
            log.warning("call %s: %s", self.label, exc)
        except asyncio.CancelledError:
            if self.bridge_id is not None and not self.gone:
                # a conversation in progress: the bridge holds it without the application; a later sweep
                # removes the empty bridge
                self.outcome = Outcome.BRIDGED
                log.warning("call %s: left bridged at shutdown", self.label)
                await self._record_evidence()
                await self._record_answered()
                self._unregister_all()
                raise
            self.outcome = Outcome.FAILED
            log.warning("call %s: cancelled (shutting down)", self.label)
            await self._teardown()
            raise
        except Exception:
            self.outcome = Outcome.FAILED
            log.exception("call %s: failed", self.label)
        await self._teardown()
        log.info("call %s: %s", self.label, self.outcome.value)
        return self.outcome

    async def _flow(self) -> Outcome:
        decision = await self._decide()
        self.decision = decision
        codes = [code.value for code in decision.codes]
        log.info("call %s: %s %s", self.label, decision.verdict.value, ",".join(codes) or "-",
                 extra=call_fields(call_id=self.agent.id, campaign=decision.campaign, verdict=decision.verdict.value,
                                   reasons=codes, number=mask(decision.number or self.args.number)))
        await self._drain()  # the agent may have hung up while the decision was made: then dial nothing
        if not decision.allowed:
            await self._block(decision)
            return Outcome.BLOCKED
        if ReasonCode.EMERGENCY_NUMBER in decision.codes:
            # an emergency number is connected as it is: no disclosure, nothing that could end it
            await self._place(decision)
            await self._bridge()
            return await self._until_hangup()
        disclosure = decision.disclosure
        if disclosure is None:  # an allowed call must say what to disclose: fail closed
            await self._block(decision)
            return Outcome.BLOCKED
        await self._place(decision)
        opted_out = await self._disclose(decision, disclosure)
        if opted_out:
            return Outcome.OPTED_OUT
        await self._bridge()
        return await self._until_hangup()

    async def _decide(self) -> Decision:
        request = ScreenRequest(dialed=self.args.number, campaign=self.args.campaign, source="ari",
                                call_id=self.agent.id, agent=self.agent.name or None,
                                trunk=self.args.trunk or None, caller_id=self.agent.caller_number or None)
        decision = await screen_or_block(self.screener, request, self.options.decision_timeout_s)
        if decision.allowed and not self.args.trunk:
            log.error("call %s: SCREENER_TRUNK is empty: blocked", self.label)
            return Decision.unavailable(request, "no trunk")
        return decision

    async def _block(self, decision: Decision) -> None:
        """'This call is not permitted' to the agent (early media), then hang up with cause 21 (SIP 403)."""
        log.info("call %s: blocked: %s", self.label, ",".join(c.value for c in decision.codes))
        self._agent_reason = {"reason_code": 21}
        try:
            await self.client.progress(self.agent.id)
            pb = new_id("playback")
            self.playback_id = pb
            prompt = self.screener.sounds.blocked(self.options.agent_language)
            await self.client.play(self.agent.id, f"sound:{prompt}", pb)
            await self._wait(lambda e: isinstance(e, PlaybackEvent) and e.type == "PlaybackFinished"
                             and e.playback_id == pb, self.options.blocked_prompt_timeout_s)
        except AriError as exc:
            log.warning("call %s: blocked prompt not played: %s", self.label, exc)
        self.playback_id = None

    async def _place(self, decision: Decision) -> None:
        """Create the callee leg (id registered first), ring the agent, dial, wait for the answer."""
        callee = new_id("callee")
        self.callee_id = callee
        self._register(callee, self)
        variables: dict[str, str] = {}
        if decision.caller_id:
            cid = clean_dialed(decision.caller_id)
            variables = {"CALLERID(num)": cid, "CONNECTEDLINE(num,i)": cid}
        endpoint = f"PJSIP/{decision.number}@{self.args.trunk}"
        await self.client.create_channel(callee, endpoint, originator=self.agent.id, variables=variables)
        await self.client.ring(self.agent.id)
        # /dial answers 409 until the new channel is in the application: wait for its StasisStart (which may
        # have come before the POST's response, hence the id registered first)
        if callee not in self.in_stasis and await self._wait(
                lambda e: isinstance(e, StasisStart) and e.channel.id == callee, 5.0, callee_needed=True) is None:
            raise AriError("POST", "channels/create", None, "the callee channel never entered the application")
        await self.client.dial(callee, timeout_s=self.options.ring_timeout_s)
        self._dialed_at = time.monotonic()
        event = await self._wait(self._answer_or_failure, self.options.ring_timeout_s + 5, callee_needed=True)
        if event is None:
            self._agent_reason = {"reason": "no_answer"}
            raise Ended(Outcome.NO_ANSWER)
        if isinstance(event, Dial) and event.dialstatus in _DIAL_FAILURES:
            self._agent_reason = {"reason": _DIAL_FAILURES[event.dialstatus]}
            raise Ended({"BUSY": Outcome.BUSY, "NOANSWER": Outcome.NO_ANSWER}.get(
                event.dialstatus, Outcome.CALLEE_FAILED))
        self._answered_at = time.monotonic()
        self._answered_wall = datetime.now(UTC)

    def _answer_or_failure(self, event: Event) -> bool:
        if isinstance(event, Dial) and event.peer.id == self.callee_id:
            return event.dialstatus == "ANSWER" or event.dialstatus in _DIAL_FAILURES
        return isinstance(event, ChannelStateChange) and event.channel.id == self.callee_id \
            and event.channel.state == "Up"

    async def _disclose(self, decision: Decision, disclosure: Disclosure) -> bool:
        """Play the disclosure to the callee only; True when the callee pressed the opt-out digit."""
        assert self.callee_id is not None and self._answered_at is not None
        callee, digit = self.callee_id, disclosure.opt_out_digit
        prompt, language = disclosure.prompt, disclosure.language
        pb = new_id("playback")
        self.playback_id = pb
        self._evidence = DisclosureEvent(number=decision.number, campaign=decision.campaign, call_id=self.agent.id,
                                         answer_to_prompt_ms=None, prompt_finished=False, opted_out=False,
                                         language=language, source="ari")
        await self.client.play(callee, f"sound:{prompt}", pb)
        started_ms: int | None = None
        finished = False
        deadline = time.monotonic() + self.options.prompt_timeout_s
        opted = False
        while True:
            remaining = deadline - time.monotonic()
            event = await self._wait(lambda e: True, remaining, callee_needed=True)
            if event is None:
                break
            if isinstance(event, PlaybackEvent) and event.playback_id == pb:
                if event.type == "PlaybackStarted" and started_ms is None:
                    started_ms = int((time.monotonic() - self._answered_at) * 1000)
                elif event.type == "PlaybackFinished":
                    finished = event.state != "failed"
                    self.playback_id = None
                    if not finished:
                        break
                    deadline = time.monotonic() + self.options.opt_out_window_s
            elif isinstance(event, ChannelDtmfReceived) and event.channel.id == callee and event.digit == digit:
                opted = True
                break
            self._evidence = self._evidence_now(started_ms, finished, False)
        self._evidence = self._evidence_now(started_ms, finished, opted)
        if not opted and not finished:
            # fail closed: the agent is never connected to a callee who was not told who calls and why
            self._disclosure_result = "FAILED"
            log.error("call %s: the disclosure %s did not play (missing prompt? see `screener prompts build`): "
                      "call ended", self.label, prompt)
            raise Ended(Outcome.FAILED)
        if not opted:
            self._disclosure_result, self._handed_over_at = "DONE", datetime.now(UTC)
            await self._record_evidence()
            return False
        self._disclosure_result = "OPTOUT"
        await self._opt_out(decision, disclosure)
        return True

    def _evidence_now(self, started_ms: int | None, finished: bool, opted: bool) -> DisclosureEvent:
        assert self._evidence is not None
        ev = self._evidence
        return DisclosureEvent(number=ev.number, campaign=ev.campaign, call_id=ev.call_id,
                               answer_to_prompt_ms=started_ms, prompt_finished=finished, opted_out=opted,
                               language=ev.language, source=ev.source)

    async def _opt_out(self, decision: Decision, disclosure: Disclosure) -> None:
        """Redis acknowledges the opt-out FIRST; then the confirmation to the callee; then both legs end."""
        assert self.callee_id is not None
        if self.playback_id is not None:
            with contextlib.suppress(AriError):  # it may have just finished
                await self.client.stop_playback(self.playback_id)
            self.playback_id = None
        try:
            async with asyncio.timeout(self.options.opt_out_timeout_s):
                await self.screener.opt_out(decision.number, decision.campaign, source="ari", call_id=self.agent.id)
            log.info("call %s: opt-out recorded", self.label)
        except Exception:
            log.critical("call %s: OPT-OUT NOT RECORDED: the call is ended anyway; add the number by hand with "
                         "`screener dnc add`", self.label, exc_info=True)
            # never tell the callee "you will not be called again" when it was not recorded
            await self._record_evidence()
            return
        await self._record_evidence()
        if self.callee_id in self.gone:
            return
        pb = new_id("playback")
        try:
            await self.client.play(self.callee_id, f"sound:{disclosure.optout_prompt}", pb)
            await self._wait(lambda e: isinstance(e, PlaybackEvent) and e.type == "PlaybackFinished"
                             and e.playback_id == pb, self.options.blocked_prompt_timeout_s, callee_needed=True)
        except (AriError, Ended):
            pass

    async def _record_evidence(self) -> None:
        evidence, self._evidence = self._evidence, None
        if evidence is None:
            return
        try:
            async with asyncio.timeout(self.options.record_timeout_s):
                await self.screener.record_disclosure(evidence)
        except Exception:
            log.exception("call %s: disclosure evidence not recorded", self.label)

    async def _record_answered(self) -> None:
        """Once per call the callee answered (emergency calls aside): how it ended, for the abandoned-call rate.
        A disclosure cut short is the callee's hang-up when the callee left first, else ours (ABORTED)."""
        answered, self._answered_wall = self._answered_wall, None
        decision = self.decision
        if answered is None or decision is None or ReasonCode.EMERGENCY_NUMBER in decision.codes:
            return
        result = self._disclosure_result
        if result is None:
            callee_left = self.callee_id in self.gone and self.agent.id not in self.gone
            result = "HANGUP" if callee_left else "ABORTED"
        call = AnsweredCall(number=decision.number, campaign=decision.campaign, call_id=self.agent.id,
                            answered_at=answered, disclosure=result, handed_over_at=self._handed_over_at,
                            connected_at=self._connected_at, source="ari")
        try:
            async with asyncio.timeout(self.options.record_timeout_s):
                await self.screener.record_answered_call(call)
        except Exception:
            log.exception("call %s: answered call not counted", self.label)

    async def _bridge(self) -> None:
        """A mixing bridge with both legs; the agent is answered only now."""
        assert self.callee_id is not None
        bridge = new_id(f"bridge-{self.client.app}")
        self.bridge_id = bridge
        await self.client.create_bridge(bridge)
        await self.client.answer(self.agent.id)
        await self.client.add_channels(bridge, [self.agent.id, self.callee_id])
        if self._handed_over_at is not None:
            self._connected_at = datetime.now(UTC)
        log.info("call %s: bridged", self.label)

    async def _until_hangup(self) -> Outcome:
        while True:
            await self._wait(lambda e: False, None, callee_needed=True)
