"""Every invalid edit is refused with the file, the dotted key and the problem."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from config_files import MAIN, PRESET, write_config

from screener.config.errors import ConfigError
from screener.config.load import load_settings
from screener.config.reader import Node

CAMPAIGN = "[campaigns.sales]\n"

# (id, edit of the main file or the preset, which file, key, words of the problem)
MAIN_CASES = [
    ("broken toml", lambda m: m + "\n[screener\n", "", "invalid TOML"),
    ("unknown top key", lambda m: m + "\n[screenr]\nx = 1\n", "screenr", "unknown key"),
    ("unknown screener key", lambda m: m.replace('audit_salt = "s3cret-salt"', 'audit_salt = "x"\nredis = "r"'),
     "screener.redis", "unknown key"),
    ("unknown campaign key", lambda m: m.replace(CAMPAIGN, CAMPAIGN + 'polcy = "basic"\n'),
     "campaigns.sales.polcy", "unknown key"),
    ("unknown policy", lambda m: m.replace('policy = "basic"', 'policy = "usa"'),
     "campaigns.sales.policy", 'unknown policy "usa" (known: basic)'),
    ("unknown list", lambda m: m.replace('dnc_lists = ["national"]', 'dnc_lists = ["national", "tps"]'),
     "campaigns.sales.dnc_lists[1]", 'unknown list "tps"'),
    ("bad region", lambda m: m.replace('region = "US"', 'region = "XX"'), "campaigns.sales.region", "not a region"),
    ("bad caller id", lambda m: m.replace('caller_id = "+12025550143"', 'caller_id = "2025550143"'),
     "campaigns.sales.caller_id", "E.164"),
    ("caller id not e164 form", lambda m: m.replace('caller_id = "+12025550143"', 'caller_id = "+1 202 555 0143"'),
     "campaigns.sales.caller_id", "write +12025550143"),
    ("bad callback", lambda m: m.replace('callback_number = "+12025550143"', 'callback_number = "+1999"'),
     "campaigns.sales.callback_number", "E.164"),
    ("bad opt-out digit", lambda m: m.replace(CAMPAIGN, CAMPAIGN + 'opt_out_digit = "A"\n'),
     "campaigns.sales.opt_out_digit", "0-9, * or #"),
    ("two opt-out digits", lambda m: m.replace(CAMPAIGN, CAMPAIGN + 'opt_out_digit = "99"\n'),
     "campaigns.sales.opt_out_digit", "one key"),
    ("wrong type", lambda m: m.replace(CAMPAIGN, CAMPAIGN + "consent_required = \"yes\"\n"),
     "campaigns.sales.consent_required", "expected true or false"),
    ("negative rate", lambda m: m.replace(CAMPAIGN, CAMPAIGN + "calls_per_second = -1\n"),
     "campaigns.sales.calls_per_second", "out of range"),
    ("missing company", lambda m: m.replace('company = "Example Co"\n', ""), "campaigns.sales.company", "missing"),
    ("subject with a separator", lambda m: m.replace(CAMPAIGN, CAMPAIGN + 'subject = "solar|roof"\n'),
     "campaigns.sales.subject", "not a valid subject name"),
    ("no internal list",
     lambda m: m.replace('[lists.internal]\nkind = "internal"', '[lists.internal]\nkind = "campaign"'),
     "lists", 'no list of kind "internal"'),
    ("no disclosure", lambda m: m.split("[campaigns.sales.disclosure.en]")[0], "campaigns.sales.disclosure", "missing"),
    ("disclosure without opt-out", lambda m: m.replace("Press {opt_out_digit} to stop our calls.", "Goodbye."),
     "campaigns.sales.disclosure.en.text", "opt-out digit"),
    ("unknown placeholder", lambda m: m.replace("{company}", "{compnay}"),
     "campaigns.sales.disclosure.en.text", "unknown placeholder {compnay}"),
    ("exempt a non-registry", lambda m: m.replace(CAMPAIGN, CAMPAIGN + 'consent_exempts_registries = ["internal"]\n'),
     "campaigns.sales.consent_exempts_registries[0]", "only registries"),
    ("bad list kind", lambda m: m.replace('kind = "registry"', 'kind = "national"'), "lists.national.kind",
     "not a list kind"),
    ("negative max age", lambda m: m.replace("max_age_days = 31", "max_age_days = -1"),
     "lists.national.max_age_days", "out of range"),
    ("bad stale action", lambda m: m.replace("max_age_days = 31", 'max_age_days = 31\nstale_action = "ignore"'),
     "lists.national.stale_action", "block"),
    ("bad list name", lambda m: m.replace("[lists.national]", '[lists."my list"]').replace('["national"]', "[]"),
     "lists.my list", "not a valid list name"),
    ("missing include", lambda m: m.replace("presets/basic.toml", "presets/nope.toml"), "include[0]",
     "not found"),
    ("budget out of range", lambda m: m.replace('[screener]\n', "[screener]\ntime_budget_ms = 0\n"),
     "screener.time_budget_ms", "out of range"),
    ("no decision in flight", lambda m: m.replace('[screener]\n', "[screener]\nmax_in_flight = 0\n"),
     "screener.max_in_flight", "out of range"),
    ("negative overload wait", lambda m: m.replace('[screener]\n', "[screener]\noverload_wait_ms = -1\n"),
     "screener.overload_wait_ms", "out of range"),
    ("bad durability", lambda m: m.replace('[screener]\n', '[screener]\ndurability = "disk"\n'),
     "screener.durability", "not a durability (one of master, replica)"),
    ("replica wait out of range", lambda m: m.replace('[screener]\n', "[screener]\nreplica_wait_ms = 0\n"),
     "screener.replica_wait_ms", "out of range"),
    ("concurrent calls negative", lambda m: m.replace(CAMPAIGN, CAMPAIGN + "max_concurrent_calls = -1\n"),
     "campaigns.sales.max_concurrent_calls", "out of range"),
    ("call lease too short", lambda m: m.replace(CAMPAIGN, CAMPAIGN + "call_lease_s = 5\n"),
     "campaigns.sales.call_lease_s", "out of range"),
    ("nan grace", lambda m: m + "\n[fastagi]\ngrace_s = nan\n", "fastagi.grace_s", "nan is not a finite number"),
    ("inf grace", lambda m: m + "\n[fastagi]\ngrace_s = inf\n", "fastagi.grace_s", "inf is not a finite number"),
    ("-inf grace", lambda m: m + "\n[fastagi]\ngrace_s = -inf\n", "fastagi.grace_s", "-inf is not a finite number"),
    ("bad port", lambda m: m + "\n[fastagi]\nport = 70000\n", "fastagi.port", "out of range"),
    ("bad peer", lambda m: m + '\n[fastagi]\nallowed_peers = ["10.0.0.300"]\n', "fastagi.allowed_peers[0]",
     "not an IP address"),
    ("bad ari url", lambda m: m + '\n[ari]\nurl = "localhost:8088"\n', "ari.url", "http://"),
    ("admin listen without port", lambda m: m + '\n[admin]\nlisten = "127.0.0.1"\n', "admin.listen", "HOST:PORT"),
    ("admin listen bad host", lambda m: m + '\n[admin]\nlisten = "example.com:8090"\n', "admin.listen",
     "not an IP address"),
    ("admin listen bad port", lambda m: m + '\n[admin]\nlisten = "127.0.0.1:99999"\n', "admin.listen", "HOST:PORT"),
    ("admin cert without key", lambda m: m + '\n[admin]\ntls_cert = "screener.toml"\n', "admin.tls_key",
     "both tls_cert and tls_key"),
    ("admin missing cert", lambda m: m + '\n[admin]\ntls_cert = "nope.pem"\ntls_key = "screener.toml"\n',
     "admin.tls_cert", "file not found"),
    ("admin unknown key", lambda m: m + '\n[admin]\nport = 8090\n', "admin.port", "unknown key"),
    ("campaign hours range", lambda m: m.replace(CAMPAIGN, CAMPAIGN + 'hours = { weekdays = "10:00-09:00" }\n'),
     "campaigns.sales.hours.weekdays", "end must be after the start"),
    ("campaign hours closed", lambda m: m.replace(CAMPAIGN, CAMPAIGN + 'hours = { daily = "closed" }\n'),
     "campaigns.sales.hours", "no calls on any day"),
    ("campaign quiet", lambda m: m.replace(CAMPAIGN, CAMPAIGN + 'quiet = "noon"\n'),
     "campaigns.sales.quiet", "HH:MM-HH:MM"),
    ("complaint source country", lambda m: m + '\n[complaints.sources.x]\ncountry = "XX"\nstages = { reply = 3 }\n',
     "complaints.sources.x.country", "holidays package"),
    ("complaint source zone", lambda m: m + '\n[complaints.sources.x]\ntime_zone = "Mars/Base"\nstages = { a = 3 }\n',
     "complaints.sources.x.time_zone", "IANA time zone"),
    ("complaint stages missing", lambda m: m + '\n[complaints.sources.x]\ncountry = "CN"\n',
     "complaints.sources.x.stages", "missing"),
    ("complaint stage days", lambda m: m + '\n[complaints.sources.x]\nstages = { reply = 0 }\n',
     "complaints.sources.x.stages.reply", "out of range"),
    ("complaint key", lambda m: m + '\n[complaints]\nsla = 3\n', "complaints.sla", "unknown key"),
    ("inline policy clash", lambda m: m + '\n[policies.basic]\nhours = { daily = "09:00-10:00" }\n',
     "policies.basic", "already defined in"),
]  # fmt: skip

PRESET_CASES = [
    ("bad weekday", lambda p: p.replace("sat = [", "saturday = ["), "policies.basic.hours.saturday", "unknown key"),
    ("bad range", lambda p: p.replace('weekdays = "09:00-20:00"', 'weekdays = "09:00-25:00"'),
     "policies.basic.hours.weekdays", "not a time of day"),
    ("reversed range", lambda p: p.replace('weekdays = "09:00-20:00"', 'weekdays = "20:00-09:00"'),
     "policies.basic.hours.weekdays", "end must be after the start"),
    ("not a range", lambda p: p.replace('weekdays = "09:00-20:00"', 'weekdays = "9 to 5"'),
     "policies.basic.hours.weekdays", "HH:MM-HH:MM"),
    ("overlap", lambda p: p.replace('["09:00-12:00", "14:00-17:00"]', '["09:00-15:00", "14:00-17:00"]'),
     "policies.basic.hours.sat", "overlap"),
    ("no hours at all", lambda p: p.replace('weekdays = "09:00-20:00"', 'weekdays = "closed"').replace(
        'sat = ["09:00-12:00", "14:00-17:00"]', ""), "policies.basic.hours", "no calls on any day"),
    ("unknown policy key", lambda p: p.replace("[policies.basic.hours]", "[policies.basic.other]"),
     "policies.basic.other", "unknown key"),
    ("hours missing", lambda p: p.replace('[policies.basic.hours]\nweekdays = "09:00-20:00"\n', "").replace(
        'sat = ["09:00-12:00", "14:00-17:00"]', ""), "policies.basic.hours", "must name its calling hours"),
    ("bad duration", lambda p: p.replace('window = "24h"', 'window = "1 day"'),
     "policies.basic.frequency[0].window", "not a duration"),
    ("window too long", lambda p: p.replace('window = "24h"', 'window = "60d"'),
     "policies.basic.frequency[0].window", "out of range"),
    ("zero window", lambda p: p.replace('window = "24h"', 'window = "0s"'),
     "policies.basic.frequency[0].window", "longer than 0s"),
    ("bad scope", lambda p: p.replace('scope = "subject"', 'scope = "everyone"'),
     "policies.basic.frequency[0].scope", "not a scope"),
    ("zero max calls", lambda p: p.replace("max_calls = 3", "max_calls = 0"),
     "policies.basic.frequency[0].max_calls", "out of range"),
    ("unknown frequency key", lambda p: p.replace("max_calls = 3", "max_calls = 3\nper = 2"),
     "policies.basic.frequency[0].per", "unknown key"),
    ("unknown state", lambda p: p.replace("regions.FL", "regions.XY"), "policies.basic.regions.XY",
     "not a US state or Canadian province"),
    ("holiday country", lambda p: p + '\n[policies.basic.holidays]\ncountry = "XX"\n',
     "policies.basic.holidays.country", "holidays package"),
    ("holiday subdivision", lambda p: p + '\n[policies.basic.holidays]\ncountry = "GB"\nsubdivision = "XX"\n',
     "policies.basic.holidays.subdivision", "not a subdivision of GB"),
    ("makeup weekday", lambda p: p + '\n[policies.basic.holidays]\ncountry = "CN"\nmakeup_hours_from = "monday"\n',
     "policies.basic.holidays.makeup_hours_from", "not a weekday"),
    ("abandonment action", lambda p: p + '\n[policies.basic.abandonment]\naction = "stop"\n',
     "policies.basic.abandonment.action", 'must be "block" or "warn"'),
    ("abandonment rate", lambda p: p + '\n[policies.basic.abandonment]\nmax_rate_percent = 300\n',
     "policies.basic.abandonment.max_rate_percent", "out of range"),
    ("abandonment window", lambda p: p + '\n[policies.basic.abandonment]\nwindow = "30m"\n',
     "policies.basic.abandonment.window", "at least 1h"),
    ("abandonment connect", lambda p: p + '\n[policies.basic.abandonment]\nconnect_within = "0s"\n',
     "policies.basic.abandonment.connect_within", "longer than 0s"),
    ("abandonment lockout", lambda p: p + '\n[policies.basic.abandonment]\nlockout = "40d"\n',
     "policies.basic.abandonment.lockout", "out of range"),
    ("abandonment key", lambda p: p + '\n[policies.basic.abandonment]\nlimit = 3\n',
     "policies.basic.abandonment.limit", "unknown key"),
    ("preset with lists", lambda p: p + '\n[lists.x]\nkind = "internal"\n', "lists", "unknown key"),
    ("broken preset", lambda p: p + "\nhours = = 1\n", "", "invalid TOML"),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "key", "words"), [c[1:] for c in MAIN_CASES], ids=[c[0] for c in MAIN_CASES])
def test_main_file_errors(tmp_path: Path, edit, key: str, words: str) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, main=edit(MAIN))
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert err.value.file == str(path)
    assert err.value.key == key
    assert words in err.value.problem
    assert str(err.value) == (f"{path}: {key}: {err.value.problem}" if key else f"{path}: {err.value.problem}")


@pytest.mark.parametrize(("edit", "key", "words"), [c[1:] for c in PRESET_CASES], ids=[c[0] for c in PRESET_CASES])
def test_preset_errors_name_the_preset_file(tmp_path: Path, edit, key: str, words: str) -> None:  # type: ignore[no-untyped-def]
    write_config(tmp_path, preset=edit(PRESET))
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path / "screener.toml")
    assert err.value.file == str(tmp_path / "presets" / "basic.toml")
    assert err.value.key == key
    assert words in err.value.problem


def test_example_style_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config").mkdir()
    write_config(tmp_path / "config", main=MAIN.replace('policy = "basic"', 'policy = "usa"'))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as err:
        load_settings("config/screener.toml")
    assert str(err.value) == 'config/screener.toml: campaigns.sales.policy: unknown policy "usa" (known: basic)'


@pytest.mark.parametrize("text", ["nan", "+nan", "-nan", "inf", "+inf", "-inf"])
def test_every_float_key_refuses_nan_and_infinity(text: str) -> None:
    """TOML's special floats, read as a number with or without a range (nan passes both comparisons)."""
    node = Node(tomllib.loads(f"x = {text}"), "f.toml", "t")
    ranges: list[dict[str, float]] = [{}, {"low": 0, "high": 3_600}, {"low": 0}, {"high": 1}]
    for kwargs in ranges:
        with pytest.raises(ConfigError, match=r"^f\.toml: t\.x: .*not a finite number"):
            node.number("x", **kwargs)
    assert Node(tomllib.loads("x = 2.5"), "f.toml").number("x", low=0, high=3) == 2.5
