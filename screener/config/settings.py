"""The typed settings object: one frozen tree, built and validated once per (re)load."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ListKind(StrEnum):
    """How a DNC list blocks."""

    #: opt-outs and complaints: always blocks, consent never overrides it
    INTERNAL = "internal"
    #: blocks the campaigns that name it
    CAMPAIGN = "campaign"
    #: national or state registry: blocks unless the campaign lets a valid consent exempt the number
    REGISTRY = "registry"


class FrequencyScope(StrEnum):
    """Which earlier attempts a frequency limit counts."""

    #: attempts of the same campaign
    CAMPAIGN = "campaign"
    #: attempts of every campaign with the same subject
    SUBJECT = "subject"
    #: every attempt to the number
    ANY = "any"


@dataclass(frozen=True)
class Secret:
    """A credential that never prints."""

    value: str

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__


@dataclass(frozen=True)
class TimeRange:
    """A span of local wall-clock time, start inclusive, end exclusive; ``end`` 24:00 is written as None."""

    start: time
    end: time | None

    def contains(self, t: time) -> bool:
        return self.start <= t and (self.end is None or t < self.end)

    def __str__(self) -> str:
        end = "24:00" if self.end is None else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}-{end}"


@dataclass(frozen=True)
class FrequencyLimit:
    """At most ``max_calls`` attempts within the sliding ``window_s`` seconds, counted over ``scope``."""

    scope: FrequencyScope
    window_s: int
    max_calls: int
    #: where this limit comes from (a citation), shown in the reason detail
    source: str = ""


@dataclass(frozen=True)
class Rules:
    """Calling hours and frequency rules: a policy's own, or the extra rules for one state or province."""

    #: allowed local time ranges per weekday ("mon".."sun"); a day missing from the map allows no calls.
    #: An empty map sets no calling-hours restriction (state rules that only add limits); the loader
    #: requires a policy's own rules to name their hours.
    hours: dict[str, tuple[TimeRange, ...]] = field(default_factory=dict)
    #: local time ranges when no call is placed on any day (lunch, night rest)
    quiet: tuple[TimeRange, ...] = ()
    frequency: tuple[FrequencyLimit, ...] = ()
    #: minimum seconds between two attempts to the same number (any campaign); 0 = none
    min_interval_s: int = 0
    #: where these rules come from
    source: str = ""


@dataclass(frozen=True)
class HolidayRule:
    """Public holidays (and rest days) of the callee's country, from the ``holidays`` package."""

    country: str
    subdivision: str | None = None
    #: False: only public holidays are no-call days. True: every day that is not a working day
    #: (``holidays`` ``is_working_day``: weekends and public holidays) is a no-call day
    rest_days: bool = False
    #: True: a make-up working day (调休, a weekend day worked in exchange for a holiday) counts as a
    #: working day and takes the hours of ``makeup_hours_from`` instead of its own weekday's
    makeup_workdays: bool = False
    makeup_hours_from: str = "mon"


@dataclass(frozen=True)
class AbandonmentRule:
    """Abandoned calls (TSR 16 CFR 310.4(b)(4)): a call answered by the callee and not connected to an agent
    within ``connect_within_s`` of the end of the disclosure is abandoned. Every campaign's calls are counted;
    a limit applies only when ``max_rate_percent`` is set."""

    #: seconds after the end of the disclosure within which the agent must be connected
    connect_within_s: int = 2
    #: abandoned calls per 100 answered, over ``window_s``, above which the campaign's calls block (or warn);
    #: None: counted and reported, never limited
    max_rate_percent: float | None = None
    #: the rolling window of the rate (counted in whole hours)
    window_s: int = 30 * 86_400
    #: "block" (new calls block with abandonment_limit) or "warn" (logged only)
    action: str = "block"
    #: after an abandoned call the campaign does not call that number again for this long; 0 = no lock-out
    lockout_s: int = 0
    #: the rate applies once at least this many calls were answered in the window
    min_answered: int = 1
    #: where these numbers come from
    source: str = ""


#: the counting every policy has when it names no abandonment rule: TSR's 2 s, no limit, no lock-out
DEFAULT_ABANDONMENT = AbandonmentRule()


@dataclass(frozen=True)
class Policy:
    name: str
    rules: Rules
    #: extra rules per state or province (ISO 3166-2 suffix such as "FL"), added to the policy's own
    regions: dict[str, Rules] = field(default_factory=dict)
    holidays: HolidayRule | None = None
    #: seconds after a refusal (opt-out press, "don't call") during which no campaign calls the number
    refusal_cooldown_s: int = 0
    #: True: the policy requires consent for every campaign that uses it
    consent_required: bool = False
    source: str = ""
    abandonment: AbandonmentRule = DEFAULT_ABANDONMENT


@dataclass(frozen=True)
class DncList:
    name: str
    kind: ListKind
    source: str = ""
    #: a list imported longer ago than this (or never) blocks its campaigns with dnc_list_stale; 0 = never
    #: stale. The loader's default: 31 for a registry (``config.campaigns.REGISTRY_MAX_AGE_DAYS``), else 0
    max_age_days: int = 0
    #: "block" or "warn"
    stale_action: str = "block"


@dataclass(frozen=True)
class DisclosureText:
    """The identity disclosure of a campaign in one language."""

    language: str
    text: str
    #: an admin-supplied recording (path without extension, as Asterisk plays it) instead of the rendered text
    recording: str | None = None


@dataclass(frozen=True)
class Campaign:
    name: str
    company: str
    purpose: str
    #: the subject that frequency limits of scope "subject" share across campaigns
    subject: str
    caller_id: str
    callback_number: str
    region: str
    policy: str
    dnc_lists: tuple[str, ...]
    consent_required: bool
    consent_purpose: str
    #: registry lists (by name) from which a valid consent record exempts a number
    consent_exempts_registries: tuple[str, ...] = ()
    #: calls per second the campaign may start (all screeners together); 0 = unlimited
    calls_per_second: int = 0
    #: calls of the campaign in progress at once (all screeners together), counted from the decision to the
    #: call's end; 0 = unlimited
    max_concurrent_calls: int = 0
    #: seconds a call is counted at most when its end is never reported (a crashed PBX or screener)
    call_lease_s: int = 7200
    opt_out_digit: str = "9"
    disclosures: tuple[DisclosureText, ...] = ()
    #: the campaign's own per-number limits, added to its policy's (strictest wins)
    frequency: tuple[FrequencyLimit, ...] = ()
    #: the campaign's own calling hours and quiet periods, inside its policy's (both must allow a call);
    #: None: the policy's alone
    calling: Rules | None = None


@dataclass(frozen=True)
class FastAgiSettings:
    bind: str = "127.0.0.1"
    port: int = 4573
    allowed_peers: tuple[str, ...] = ("127.0.0.1",)
    #: seconds a call in flight may take to finish after SIGTERM
    grace_s: float = 10.0


@dataclass(frozen=True)
class AriSettings:
    enabled: bool = False
    url: str = "http://127.0.0.1:8088"
    username: str = "screener"
    password: Secret = Secret("")
    app: str = "screener"


class Durability(StrEnum):
    """When a write that must not be lost (an opt-out, a consent grant or revoke, a DNC change, a complaint ticket,
    an erasure) is acknowledged."""

    #: once the Redis master has it (a crash of the master before it passed it on loses it)
    MASTER = "master"
    #: once a replica has it too (``WAIT``); else it waits in the screener's spool and is written again
    REPLICA = "replica"


@dataclass(frozen=True)
class ComplaintSource:
    """Where complaints come from (China's 12321 centre, the FTC, Ofcom, the company itself) and the deadlines
    of a ticket from that source: stages in order, each due a number of working days after the one before."""

    name: str
    #: (stage name, working days) in order, e.g. (("forward", 3), ("reply", 15), ("answer", 3))
    stages: tuple[tuple[str, int], ...]
    #: the ``holidays`` country whose working days count; "" = the complained-of number's own country
    country: str = ""
    subdivision: str | None = None
    #: the time zone whose midnights end the days; "" = the number's (first) time zone
    time_zone: str = ""
    #: where the deadlines come from
    source: str = ""


#: the sources a config has unless it redefines them ([complaints.sources.NAME]); see config/README.md
DEFAULT_COMPLAINT_SOURCES: dict[str, ComplaintSource] = {
    "12321": ComplaintSource(
        "12321", (("forward", 3), ("reply", 15), ("answer", 3)), country="CN", time_zone="Asia/Shanghai",
        source="MIIT draft rules on SMS and voice calls (2020): 12321 complaints forwarded within 3 working days, "
               "the company replies within 15, the user is answered within 3 (regulations.md rule 16; draft)"),
    "ftc": ComplaintSource(
        "ftc", (("resolve", 10),), country="US", time_zone="America/New_York",
        source="house default: no FTC reply deadline found; 10 business days is the TCPA's time to honor a "
               "do-not-call request (47 CFR 64.1200(d)(3), FCC 24-24; regulations.md rule 2)"),
    "ofcom": ComplaintSource(
        "ofcom", (("resolve", 10),), country="GB", time_zone="Europe/London",
        source="house default: no Ofcom deadline found in the research (regulations.md rule 14)"),
    "internal": ComplaintSource(
        "internal", (("resolve", 10),),
        source="house default: 10 working days of the number's country"),
}


@dataclass(frozen=True)
class AdminSettings:
    """The admin HTTP server inside ``screener serve``: JSON API, health, metrics, the supervisor page."""

    enabled: bool = True
    #: "HOST:PORT" ("[::1]:8090" for IPv6); port 0 takes any free port
    listen: str = "127.0.0.1:8090"
    #: PEM certificate and key files: both set serves HTTPS, neither serves HTTP
    tls_cert: str | None = None
    tls_key: str | None = None
    #: True: /healthz, /readyz and /metrics need a token too (viewer role or more)
    metrics_require_token: bool = False

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


#: the store's time budget of one decision when the config gives none (``time_budget_ms``)
DEFAULT_TIME_BUDGET_MS = 150


@dataclass(frozen=True)
class AuditSettings:
    """The audit trail's archive: where its segment files go, when entries move there, how long they stay."""

    #: the archive folder (relative: to the project, like ``state_dir``)
    archive_dir: str = "var/audit-archive"
    #: an entry is archived once the UTC day it belongs to has ended at least this long ago (seconds)
    archive_after_s: int = 3600
    #: seconds between the archive runs of ``screener serve``; 0: serve never archives (run ``audit archive``)
    archive_interval_s: int = 3600
    #: segments are kept this many calendar years and days after their day (TSR 310.5: 5 years)
    retention_years: int = 5
    retention_days: int = 1


@dataclass(frozen=True)
class Settings:
    """Everything the screener needs, validated. ``version`` is the content hash of the files it came from."""

    path: str
    version: str
    #: empty: start a private redis-server under ``state_dir``
    redis_url: str
    state_dir: str
    time_budget_ms: int
    #: salt for the hashed numbers in the audit trail
    audit_salt: Secret
    audit_maxlen: int
    fastagi: FastAgiSettings
    ari: AriSettings
    lists: dict[str, DncList]
    policies: dict[str, Policy]
    campaigns: dict[str, Campaign]
    prompts_dir: str = "var/prompts"
    #: decisions in flight per process past which a decision waits for a slot, then is refused (screening_unavailable,
    #: "overloaded"): capacity x acceptable latency (see config/README.md)
    max_in_flight: int = 64
    #: how long a decision past max_in_flight may wait for a slot before it is refused (0: refused at once)
    overload_wait_ms: int = 20
    #: complaint sources by name (the defaults, and what [complaints.sources.NAME] adds or redefines)
    complaint_sources: dict[str, ComplaintSource] = field(default_factory=lambda: dict(DEFAULT_COMPLAINT_SOURCES))
    durability: Durability = Durability.MASTER
    #: how long an acknowledged write waits for a replica (``durability = "replica"``)
    replica_wait_ms: int = 1000
    admin: AdminSettings = AdminSettings()
    audit: AuditSettings = AuditSettings()
    #: the content of each file the version was computed from, (path, bytes), secrets included: never shown;
    #: stored with its secrets masked (``config/redact.redacted_sources``), content-addressed, for ``screener
    #: config show VERSION``
    source_contents: tuple[tuple[str, bytes], ...] = field(default=(), repr=False, compare=False)
