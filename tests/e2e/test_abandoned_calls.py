"""Abandoned calls through a real Asterisk 22 (FastAGI mode): the agent who hangs up after the callee answered
leaves an abandoned call (the hangup handler [screener-call-end] tells the screener), a connected call is
counted as answered, and a campaign over its limit then blocks its calls with abandonment_limit."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from screener.lab.sipp import DIALER_IP
from tests.e2e.harness import Lab, decision_reasons, screener_command, wait_audit

UAC_CANCEL = str(Path(__file__).resolve().parents[1] / "ari" / "scenarios" / "uac_cancel.xml")


def report(lab: Lab, campaign: str) -> tuple[int, list[dict[str, object]]]:
    proc = subprocess.run([*screener_command(), "--config", str(lab.server.config), "--redis", lab.redis.url,
                           "report", "abandonment", "--campaign", campaign, "--json"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_an_agent_hanging_up_after_the_answer_is_an_abandoned_call_and_the_campaign_then_blocks(lab: Lab) -> None:
    # a call the agent takes after the disclosure: answered and connected at once
    connected = lab.call("12125550301", ip=DIALER_IP, campaign="lab-abandon")
    assert connected.result.final_status == 200, connected.result.output
    [outcome] = wait_audit(lab.redis.url, "+12125550301", "call_outcome")
    assert (outcome.fields["outcome"], outcome.fields["abandoned"]) == ("connected", "0")
    assert 0 <= int(outcome.fields["connect_delay_ms"]) < 2000
    assert report(lab, "lab-abandon")[1][0]["answered"] == 1

    # the agent gives up 1.5 s after its 180 Ringing, while the callee (who answered) hears the disclosure
    gone = lab.call("12125550302", ip=DIALER_IP, campaign="lab-abandon", agent_scenario=UAC_CANCEL, hold_ms=1500)
    assert gone.result.final_status == 487, gone.result.output
    assert gone.carrier_invites == 1
    assert [m.status for m in gone.callee.messages() if m.sent and m.status == 200][:1] == [200]  # it answered
    [outcome] = wait_audit(lab.redis.url, "+12125550302", "call_outcome")
    assert (outcome.fields["outcome"], outcome.fields["abandoned"]) == ("not_connected", "1")
    assert outcome.fields["disclosure"] == "DONE" and outcome.fields["connected_at"] == ""

    # 1 abandoned of 2 answered is over the 3 % limit: the campaign's next call is blocked before any INVITE
    status, rows = report(lab, "lab-abandon")
    assert status == 1 and (rows[0]["answered"], rows[0]["abandoned"], rows[0]["over_limit"]) == (2, 1, True)
    blocked = lab.call("12125550303", ip=DIALER_IP, campaign="lab-abandon")
    assert blocked.result.final_status == 403, blocked.result.output
    assert blocked.carrier_invites == 0
    assert decision_reasons(lab.redis.url, "+12125550303") == [["abandonment_limit"]]
    # the other campaigns still call
    other = lab.call("12125550304", callee="uas_ring_busy.xml")
    assert other.result.final_status == 486 and other.carrier_invites == 1
