"""A small valid config written to a temp folder, for the loader's and the watcher's tests."""

from __future__ import annotations

from pathlib import Path

PRESET = """
[policies.basic]
source = "test preset"
quiet = ["12:00-13:00"]

[policies.basic.hours]
weekdays = "09:00-20:00"
sat = ["09:00-12:00", "14:00-17:00"]

[[policies.basic.frequency]]
scope = "subject"
max_calls = 3
window = "24h"
source = "3 a day"

[policies.basic.regions.FL]
hours = { daily = "08:00-20:00" }
"""

MAIN = """
include = ["presets/basic.toml"]

[screener]
audit_salt = "s3cret-salt"

[lists.internal]
kind = "internal"

[lists.national]
kind = "registry"
max_age_days = 31
source = "a registry"

[campaigns.sales]
company = "Example Co"
purpose = "a test"
caller_id = "+12025550143"
callback_number = "+12025550143"
region = "US"
policy = "basic"
dnc_lists = ["national"]

[campaigns.sales.disclosure.en]
text = "This is {company}. Press {opt_out_digit} to stop our calls."
"""


def write_config(folder: Path, main: str = MAIN, preset: str = PRESET) -> Path:
    (folder / "presets").mkdir(parents=True, exist_ok=True)
    (folder / "presets" / "basic.toml").write_text(preset, encoding="utf-8")
    path = folder / "screener.toml"
    path.write_text(main, encoding="utf-8")
    return path
