"""Data-subject requests (GDPR Art. 15 and 17; ``screener privacy``, the admin API).

``export``: every record held about one number, as JSON: the DNC lists holding it (with each list's source and
the opt-outs and complaints that put it there), its consent records and their history, its remembered call
attempts, its last refusal, its abandoned calls, its complaint tickets and its audit-trail entries.

``erase``: removes what is not needed and keeps what must stay, saying which and why:

* kept: the number on the internal DNC list (a suppression entry: it is never called again), open complaint
  tickets (the company must still answer them), and the audit trail's entries, whose personal fields (the
  masked number, its keyed hash, call ids, the number as dialed, the agent) are replaced by tombstones: the
  hash chain still verifies, and the entries can no longer be found by the number;
* removed: consent records and their history, call attempts, the last refusal, abandoned-call lock-outs, and
  the number and text of closed complaint tickets (their dates, source and resolution stay, masked).

Both are recorded in the audit trail (kind ``privacy``). The erasure's writes (the audit streams' rewrites too)
are acknowledged as the config's ``durability`` says (``service.durability``): an erasure reported done is not
undone by a failover.

An erasure runs with the audit archive's lock held (``AuditTrail.archive_held``), from before its first write
to its last: no archive run copies an entry between its reading and its tombstoning. It runs only on the host
that archives (when the trail is archived at all): elsewhere it refuses, ``ErasureRefused``, before any write.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from screener.config.paths import archive_dir
from screener.numbers import mask
from screener.service.audit import ARCHIVE_WAIT_S, AuditTrail, ErasureRefused
from screener.service.audit_fields import OPT_OUT, PRIVACY, audit_fields, number_hash
from screener.service.complaints import save_ticket, view
from screener.service.dnc import DncAdmin
from screener.service.durability import acknowledged
from screener.service.numbers_input import DEFAULT_REGION, e164_of
from screener.service.screening import Screener
from screener.store import abandonment, complaints, consent, dnc, keys, refusals, subject
from screener.store.complaints import OPEN
from screener.store.decide import parse_attempt

__all__ = ["Erasure", "ErasureRefused", "PrivacyDesk"]


def _iso(ms: int | None) -> str | None:
    return None if not ms else datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Erasure:
    """What an erasure removed and what it kept (with why)."""

    number: str
    erased_at: datetime
    #: what went: name -> how many
    removed: dict[str, int] = field(default_factory=dict)
    #: what stayed: (what, why)
    kept: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"number": mask(self.number), "erased_at": self.erased_at.isoformat(), "removed": self.removed,
                "kept": [{"what": what, "why": why} for what, why in self.kept]}


class PrivacyDesk:
    """Data-subject requests against one Redis; ``front_end`` names who acts in the audit entries."""

    def __init__(self, screener: Screener, *, front_end: str = "cli", actor: str = "",
                 archive_wait_s: float = ARCHIVE_WAIT_S) -> None:
        self.screener = screener
        self.redis = screener.redis
        self.front_end = front_end
        #: who acts (the DNC change's actor): ``cli:<user>``, an API token's name
        self.actor = actor or front_end
        #: how long an erasure waits for an archive run holding the archive's lock before it gives up
        self.archive_wait_s = archive_wait_s

    def _trail(self) -> AuditTrail:
        settings = self.screener.settings
        return AuditTrail(self.redis, settings.audit_salt.value, archive_dir(settings), settings=settings)

    async def export(self, number: str, region: str = DEFAULT_REGION, *,
                     now: datetime | None = None) -> dict[str, Any]:
        """Every record held about the number (``BadNumber`` for a number that cannot be read)."""
        settings = self.screener.settings
        e164 = e164_of(number, region)
        now = now or datetime.now(UTC)
        hashed = number_hash(e164, settings.audit_salt.value)
        entries = [e async for e in self._trail().entries_of_hash(hashed, group=keys.audit_group(e164))]
        names = sorted(set(await dnc.list_names(self.redis)) | set(settings.lists))
        infos = await dnc.read_list_infos(self.redis, names)
        lists = []
        for name in names:
            if not await dnc.contains(self.redis, name, e164):
                continue
            conf = settings.lists.get(name)
            lists.append({
                "list": name, "kind": conf.kind.value if conf else infos[name].kind,
                "list_source": infos[name].state.source or (conf.source if conf else ""),
                "opt_outs": [{"at": e.fields.get("at"), "source": e.fields.get("source"), "audit_id": e.id}
                             for e in entries if e.kind == OPT_OUT and e.fields.get("list") == name]})
        attempts = []
        for member in await subject.attempts(self.redis, e164):
            parsed = parse_attempt(member)
            if parsed is not None:
                attempts.append({"at": _iso(parsed.at_ms), "campaign": parsed.campaign, "subject": parsed.subject,
                                 "attempt_id": member.split("|", 3)[3]})
        tickets = await complaints.load_many(self.redis, await complaints.ids_of_number(self.redis, hashed))
        record = {
            "number": e164,
            "exported_at": now.isoformat(timespec="seconds"),
            "dnc": lists,
            "consent": [asdict(r) for r in await consent.records(self.redis, e164)],
            "consent_history": [{"id": i, "action": a, "record": r}
                                for i, a, r in await subject.consent_history(self.redis, e164)],
            "attempts": attempts,
            "last_refusal_at": _iso(await refusals.last_refusal_ms(self.redis, e164)),
            "abandoned_calls": [{"campaign": c, "at": _iso(ms)}
                                for c, ms in sorted((await abandonment.last_abandoned(self.redis, e164)).items())],
            "complaints": [view(t, now).to_json() for t in tickets],
            "audit": [e.to_json() for e in entries],
        }
        await self._audit("export", e164, now)
        return record

    async def erase(self, number: str, region: str = DEFAULT_REGION, *, now: datetime | None = None) -> Erasure:
        """Erase what is not needed (see the module's docstring); the number goes on the internal list first.
        ``ErasureRefused`` (before any write) on a host that is not the archive's, or when an archive run holds
        the archive's lock longer than ``archive_wait_s``."""
        e164 = e164_of(number, region)
        trail = self._trail()
        async with trail.archive_held(self.archive_wait_s):
            return await self._erase(trail, e164, now or datetime.now(UTC))

    async def _erase(self, trail: AuditTrail, e164: str, now: datetime) -> Erasure:
        settings = self.screener.settings
        hashed = number_hash(e164, settings.audit_salt.value)
        internal = self.screener.internal_list()
        # the suppression entry first: whatever happens next, the number is never called again
        await DncAdmin(self.redis, settings).add(internal, e164, actor=self.actor,
                                                 source="erasure request (GDPR Art. 17)")
        self.screener.invalidate_list_states()
        removed: dict[str, int] = {}
        removed["consent_records"] = len(await consent.records(self.redis, e164))
        removed["attempts"] = len(await subject.attempts(self.redis, e164))
        removed["refusals"] = int(await refusals.last_refusal_ms(self.redis, e164) is not None)
        removed["abandoned_calls"] = len(await abandonment.last_abandoned(self.redis, e164))
        history = [i for i, _, _ in await subject.consent_history(self.redis, e164)]

        async def forget() -> int:  # the number's own keys and its history entries: its slot, acknowledged
            await subject.forget(self.redis, e164)
            return await subject.delete_consent_history(self.redis, e164, history)

        removed["consent_history"] = await acknowledged(self.redis, settings, forget,
                                                        keys=[*subject.number_keys(e164), keys.consent_log_key(e164)])
        kept: list[tuple[str, str]] = [
            (f"the number on the internal DNC list {internal!r}",
             "a suppression entry: the person asked not to be called, so the number is never called again")]
        redacted = 0
        for ticket in await complaints.load_many(self.redis, await complaints.ids_of_number(self.redis, hashed)):
            if ticket.status == OPEN:
                kept.append((f"open complaint {ticket.id}",
                             "the company must still answer it (a legal obligation, Art. 17(3)(b)); erase again "
                             "once it is closed"))
            elif not ticket.erased:
                await save_ticket(self.screener, replace(ticket, number=mask(e164), text="", erased=1))
                redacted += 1
        removed["complaints_redacted"] = redacted
        audit_count = await trail.erase_number(e164, note="erasure request (GDPR Art. 17)")
        if audit_count:
            kept.append((f"{audit_count} audit-trail entries",
                         "evidence of each decision kept for the record-keeping rules (TSR 310.5: 5 years); their "
                         "personal fields are replaced by tombstones (the hash chain still verifies), so they no "
                         "longer name the number"))
        result = Erasure(e164, now, removed, tuple(kept))
        await self._audit("erase", e164, now, removed=",".join(f"{k}={v}" for k, v in removed.items()))
        return result

    async def _audit(self, action: str, e164: str, now: datetime, **extra: str) -> None:
        fields = audit_fields(PRIVACY, self.screener.settings, at=now, number=e164, campaign="",
                              source=self.front_end, action=action, **extra)
        await self.screener.append_audit(fields, group=keys.audit_group(e164))
