"""A small working config (campaign ``lab`` on the shipped lab preset) written into a temp folder."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CONFIG = """\
include = ["presets/lab.toml"]

[screener]
redis_url = "{redis_url}"
state_dir = "{state_dir}"
time_budget_ms = 150
audit_salt = "test-salt-test-salt"
prompts_dir = "{prompts_dir}"

[fastagi]
bind = "127.0.0.1"
port = 4573
allowed_peers = ["127.0.0.1"]
grace_s = 5

[admin]
listen = "127.0.0.1:0"

[lists.internal]
kind = "internal"
source = "opt-outs"

[campaigns.lab]
company = "Example Solar Inc. test lab"
purpose = "a test call"
subject = "lab"
caller_id = "+12025550144"
callback_number = "+12025550144"
region = "US"
policy = "lab"
dnc_lists = ["internal"]
consent_required = false
opt_out_digit = "9"

[campaigns.lab.disclosure.en]
text = "This is a test call from {{company}}. To stop these calls, press {{opt_out_digit}}."

[campaigns.lab.disclosure.zh]
text = "这是{{company}}的测试电话。如不想再接到此类电话，请按{{opt_out_digit}}。"
"""


def write_config(folder: Path, redis_url: str) -> Path:
    (folder / "presets").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config" / "presets" / "lab.toml", folder / "presets" / "lab.toml")
    path = folder / "screener.toml"
    path.write_text(CONFIG.format(redis_url=redis_url, state_dir=folder / "var", prompts_dir=folder / "prompts"))
    return path
