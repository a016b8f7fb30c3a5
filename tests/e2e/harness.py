"""The e2e harness: the e2e config additions and the per-test ``Lab`` (the stack itself is screener.lab.stack)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from screener.embedded_redis import EmbeddedRedis
from screener.lab import AsteriskSandbox
from screener.lab.sipp import AGENT_IP
from screener.lab.stack import (
    Call,
    ServerProcess,
    audit_entries,
    calls_in_progress,
    decision_reasons,
    dnc_add,
    on_internal_dnc,
    place_lab_call,
    refused_at_ms,
    screener_command,
    wait_audit,
    write_config,
)

__all__ = ["E2E_CONFIG", "Call", "Lab", "ServerProcess", "audit_entries", "calls_in_progress", "closed_window",
           "decision_reasons", "dnc_add", "on_internal_dnc", "refused_at_ms", "screener_command", "wait_audit",
           "write_config"]


def closed_window(tz: str = "America/New_York") -> str:
    """A one-hour daily calling window that is about 12 hours away from now in ``tz`` (so: closed now)."""
    start = (datetime.now(ZoneInfo(tz)) + timedelta(hours=12)).hour
    start = min(start, 22)
    return f"{start:02d}:00-{start + 1:02d}:00"


E2E_CONFIG = """
# ---- e2e additions (tests/e2e/conftest.py) ----
[policies.lab-closed]
source = "e2e: open one hour a day, about 12 hours from now in New York"

[policies.lab-closed.hours]
daily = "{window}"

[campaigns.lab-closed]
company = "Example Solar Inc. test lab"
purpose = "a test call outside calling hours"
subject = "lab-closed"
caller_id = "+12025550144"
callback_number = "+12025550144"
region = "US"
policy = "lab-closed"
dnc_lists = ["internal"]
consent_required = false
opt_out_digit = "9"

[campaigns.lab-closed.disclosure.en]
text = "This is a test call from {{company}}. To stop these calls, press {{opt_out_digit}}."

[policies.lab-abandon]
source = "e2e: open all day, the US abandoned-call limit"

[policies.lab-abandon.hours]
daily = "00:00-24:00"

[policies.lab-abandon.abandonment]
source = "16 CFR 310.4(b)(4)(i)"
connect_within = "2s"
max_rate_percent = 3.0
window = "30d"
action = "block"

[campaigns.lab-abandon]
company = "Example Solar Inc. test lab"
purpose = "a test call of the abandoned-call limit"
subject = "lab-abandon"
caller_id = "+12025550144"
callback_number = "+12025550144"
region = "US"
policy = "lab-abandon"
dnc_lists = ["internal"]
consent_required = false
opt_out_digit = "9"

[campaigns.lab-abandon.disclosure.en]
text = "This is a test call from {{company}}. To stop these calls, press {{opt_out_digit}}."

[campaigns.lab-one]
company = "Example Solar Inc. test lab"
purpose = "one call at a time"
subject = "lab-one"
caller_id = "+12025550144"
callback_number = "+12025550144"
region = "US"
policy = "lab"
dnc_lists = ["internal"]
consent_required = false
opt_out_digit = "9"
max_concurrent_calls = 1

[campaigns.lab-one.disclosure.en]
text = "This is a test call from {{company}}. To stop these calls, press {{opt_out_digit}}."
"""


@dataclass
class Lab:
    sandbox: AsteriskSandbox
    workdir: Path
    redis: EmbeddedRedis
    server: ServerProcess

    def call(self, number: str, *, callee: str = "uas_answer.xml", press_after_ms: int = 500,
             timeout_s: float = 60.0, ip: str = AGENT_IP, campaign: str = "", caller_user: str = "agent",
             caller_name: str = "Agent", agent_scenario: str = "uac.xml", hold_ms: int = 500) -> Call:
        """Place one call from the agent (or ``ip=DIALER_IP, campaign=...``) to ``number``; the callee runs
        ``callee`` behind the carrier trunk and is stopped before this returns."""
        return place_lab_call(self.workdir, number, callee=callee, press_after_ms=press_after_ms,
                              timeout_s=timeout_s, ip=ip, campaign=campaign, caller_user=caller_user,
                              caller_name=caller_name, agent_scenario=agent_scenario, hold_ms=hold_ms)




