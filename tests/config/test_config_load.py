"""load_settings: the shipped example and presets, the TOML shape, versions and secrets."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
from config_files import MAIN, PRESET, write_config

from screener.config.errors import ConfigError
from screener.config.load import fingerprint, load_settings
from screener.config.settings import (
    WEEKDAYS,
    AbandonmentRule,
    ComplaintSource,
    FrequencyLimit,
    FrequencyScope,
    HolidayRule,
    ListKind,
    TimeRange,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "screener.toml"
PRESETS = sorted((ROOT / "config" / "presets").glob("*.toml"))


def test_example_config_loads_with_every_preset() -> None:
    settings = load_settings(EXAMPLE)
    assert set(settings.policies) >= {"us", "ca", "uk", "cn", "lab"}
    assert len(settings.version) == 12 and all(c in "0123456789abcdef" for c in settings.version)
    assert settings.redis_url == "" and settings.state_dir == "var" and settings.time_budget_ms == 150
    assert settings.max_in_flight == 64 and settings.overload_wait_ms == 20
    # ARI runs beside FastAGI out of the box, with the shipped asterisk/ari.conf's user and password
    assert settings.ari.enabled and settings.ari.url == "http://127.0.0.1:8088"
    ari_conf = (ROOT / "asterisk" / "ari.conf").read_text()
    assert f"[{settings.ari.username}]" in ari_conf and f"password={settings.ari.password.value}" in ari_conf
    assert settings.fastagi.port == 4573


def test_example_lists() -> None:
    lists = load_settings(EXAMPLE).lists
    assert lists["internal"].kind is ListKind.INTERNAL
    national = lists["us-national"]
    assert national.kind is ListKind.REGISTRY
    assert national.max_age_days == 31
    assert national.source == "FTC National Do Not Call Registry"


def test_a_registry_without_max_age_goes_stale_after_31_days_and_other_kinds_never(tmp_path: Path) -> None:
    main = MAIN.replace("max_age_days = 31\n", "") + """
[lists.own]
kind = "campaign"

[lists.frozen]
kind = "registry"
max_age_days = 0
"""
    lists = load_settings(write_config(tmp_path, main=main)).lists
    assert lists["national"].kind is ListKind.REGISTRY and lists["national"].max_age_days == 31
    assert (lists["internal"].max_age_days, lists["own"].max_age_days) == (0, 0)
    assert lists["frozen"].max_age_days == 0  # set explicitly: never stale


def test_example_campaign_us_sales() -> None:
    settings = load_settings(EXAMPLE)
    c = settings.campaigns["us-sales"]
    assert (c.region, c.policy, c.consent_required) == ("US", "us", False)
    assert c.dnc_lists == ("internal", "us-national")
    assert settings.policies["us"].consent_required is False
    assert c.caller_id.startswith("+1") and c.callback_number.startswith("+1")
    (en,) = c.disclosures
    assert en.language == "en"
    assert c.company in en.text and "press 9" in en.text.lower() and "(202) 555-0143" in en.text


def test_example_campaign_cn_service() -> None:
    settings = load_settings(EXAMPLE)
    c = settings.campaigns["cn-service"]
    assert (c.region, c.policy, c.consent_required, c.consent_purpose) == ("CN", "cn", True, "service")
    texts = {d.language: d.text for d in c.disclosures}
    assert set(texts) == {"zh", "en"}
    assert "按9" in texts["zh"] and "示例科技" in texts["zh"]
    assert "press 9" in texts["en"]


def test_example_campaign_lab() -> None:
    settings = load_settings(EXAMPLE)
    c = settings.campaigns["lab"]
    assert (c.region, c.policy, c.consent_required, c.dnc_lists) == ("US", "lab", False, ("internal",))
    lab = settings.policies["lab"]
    everything = (TimeRange(time(0, 0), None),)
    assert lab.rules.hours == {day: everything for day in WEEKDAYS}
    assert lab.rules.quiet == () and lab.holidays is None and not lab.consent_required
    assert lab.rules.frequency == (FrequencyLimit(FrequencyScope.ANY, 3600, 3, "lab safety cap"),)


def test_us_preset() -> None:
    us = load_settings(EXAMPLE).policies["us"]
    fed = (TimeRange(time(8), time(21)),)
    assert us.rules.hours == {day: fed for day in WEEKDAYS}
    assert us.rules.frequency == ()  # Regulation F is in us-debt, not in us
    for state in ("FL", "OK", "MD"):
        rules = us.regions[state]
        assert rules.hours == {day: (TimeRange(time(8), time(20)),) for day in WEEKDAYS}
        (limit,) = rules.frequency
        assert (limit.scope, limit.max_calls, limit.window_s) == (FrequencyScope.SUBJECT, 3, 86_400)
        assert limit.source


def test_abandonment_in_the_us_and_uk_presets_and_the_default() -> None:
    policies = load_settings(EXAMPLE).policies
    us, uk = policies["us"].abandonment, policies["uk"].abandonment
    assert (us.connect_within_s, us.max_rate_percent, us.window_s, us.action, us.lockout_s) == (
        2, 3.0, 30 * 86_400, "block", 0)
    assert "310.4(b)(4)(i)" in us.source
    assert (uk.max_rate_percent, uk.window_s, uk.lockout_s) == (3.0, 86_400, 72 * 3600)
    # a policy without the table counts answered calls with TSR's 2 s and sets no limit
    assert policies["cn"].abandonment == AbandonmentRule()


def test_complaint_sources_default_and_from_the_config(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    path.write_text(path.read_text() + '\n[complaints.sources.ftc]\ncountry = "US"\nsubdivision = "NY"\n'
                    'stages = { acknowledge = 2, resolve = 10 }\nsource = "policy 4.2"\n'
                    '\n[complaints.sources.bank]\nstages = { reply = 5 }\n')
    sources = load_settings(path).complaint_sources
    assert sources["12321"].stages == (("forward", 3), ("reply", 15), ("answer", 3))
    assert sources["12321"].country == "CN" and sources["12321"].time_zone == "Asia/Shanghai"
    assert sources["ftc"] == ComplaintSource("ftc", (("acknowledge", 2), ("resolve", 10)), country="US",
                                             subdivision="NY", source="policy 4.2")
    assert sources["bank"].country == "" and sorted(sources) == ["12321", "bank", "ftc", "internal", "ofcom"]


def test_us_debt_preset_adds_regulation_f() -> None:
    debt = load_settings(EXAMPLE).policies["us-debt"]
    assert FrequencyLimit(FrequencyScope.SUBJECT, 7 * 86_400, 7, "12 CFR 1006.14(b)(2)") in debt.rules.frequency


def test_ca_uk_cn_presets() -> None:
    policies = load_settings(EXAMPLE).policies
    ca = policies["ca"].rules.hours
    assert ca["mon"] == (TimeRange(time(9), time(21, 30)),)
    assert ca["sat"] == ca["sun"] == (TimeRange(time(10), time(18)),)
    uk = policies["uk"]
    assert "sun" not in uk.rules.hours and uk.holidays == HolidayRule("GB")
    cn = policies["cn"]
    assert cn.consent_required
    assert cn.rules.hours["sat"] == (TimeRange(time(9), time(21)),)
    assert cn.rules.quiet == (TimeRange(time(12), time(14)),)
    assert cn.holidays == HolidayRule("CN", None, rest_days=True, makeup_workdays=True, makeup_hours_from="mon")
    assert cn.refusal_cooldown_s >= 180 * 86_400


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.name)
def test_each_preset_loads_on_its_own(tmp_path: Path, preset: Path) -> None:
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / preset.name).write_bytes(preset.read_bytes())
    main = tmp_path / "screener.toml"
    main.write_text(f'include = ["presets/{preset.name}"]\n', encoding="utf-8")
    settings = load_settings(main)
    assert settings.policies
    text = preset.read_text(encoding="utf-8")
    if preset.name != "lab.toml":
        assert "STARTING POINT" in text and "counsel" in text
    for policy in settings.policies.values():
        assert policy.rules.hours


def test_small_config_shape(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path))
    basic = settings.policies["basic"]
    assert basic.rules.hours["mon"] == (TimeRange(time(9), time(20)),)
    assert basic.rules.hours["sat"] == (TimeRange(time(9), time(12)), TimeRange(time(14), time(17)))
    assert "sun" not in basic.rules.hours
    assert basic.rules.quiet == (TimeRange(time(12), time(13)),)
    assert basic.regions["FL"].hours["sun"] == (TimeRange(time(8), time(20)),)
    c = settings.campaigns["sales"]
    assert c.subject == "sales" and c.consent_purpose == "sales"  # defaults: the campaign's name
    assert c.dnc_lists == ("national", "internal")  # internal lists apply to every campaign
    assert c.disclosures[0].text == "This is Example Co. Press 9 to stop our calls."
    assert c.opt_out_digit == "9" and c.calls_per_second == 0


def test_day_groups_and_single_days(tmp_path: Path) -> None:
    preset = PRESET.replace(
        'weekdays = "09:00-20:00"', 'daily = "10:00-11:00"\nweekend = "closed"\nwed = "08:00-09:00"'
    )
    preset = preset.replace('sat = ["09:00-12:00", "14:00-17:00"]', "")
    hours = load_settings(write_config(tmp_path, preset=preset)).policies["basic"].rules.hours
    assert hours["mon"] == (TimeRange(time(10), time(11)),)
    assert hours["wed"] == (TimeRange(time(8), time(9)),)
    assert "sat" not in hours and "sun" not in hours


def test_quiet_period_across_midnight_is_split(tmp_path: Path) -> None:
    preset = PRESET.replace('quiet = ["12:00-13:00"]', 'quiet = ["21:00-09:00"]')
    quiet = load_settings(write_config(tmp_path, preset=preset)).policies["basic"].rules.quiet
    assert quiet == (TimeRange(time(0), time(9)), TimeRange(time(21), None))


@pytest.mark.parametrize(("text", "seconds"), [('"90s"', 90), ('"30m"', 1800), ('"24h"', 86_400), ('"7d"', 604_800),
                                               ('"1h30m"', 5400), ("120", 120), ('"2w"', 1_209_600)])  # fmt: skip
def test_durations(tmp_path: Path, text: str, seconds: int) -> None:
    preset = PRESET.replace('quiet = ["12:00-13:00"]', f"min_interval = {text}")
    assert load_settings(write_config(tmp_path, preset=preset)).policies["basic"].rules.min_interval_s == seconds


def test_version_covers_the_config_and_every_include(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    first = load_settings(path).version
    assert load_settings(path).version == first
    assert fingerprint(path) == first
    write_config(tmp_path, preset=PRESET.replace("test preset", "edited preset"))
    second = load_settings(path).version
    assert second != first
    write_config(tmp_path, main=MAIN + "\n# a comment\n", preset=PRESET.replace("test preset", "edited preset"))
    assert load_settings(path).version not in (first, second)


def test_secrets_never_print(tmp_path: Path) -> None:
    main = MAIN + '\n[ari]\npassword = "ari-pa55word"\n'
    settings = load_settings(write_config(tmp_path, main=main))
    assert settings.audit_salt.value == "s3cret-salt"
    assert settings.ari.password.value == "ari-pa55word"
    for text in (repr(settings), str(settings), repr(settings.ari), str(settings.audit_salt)):
        assert "s3cret-salt" not in text and "ari-pa55word" not in text


def test_admin_defaults_and_settings(tmp_path: Path) -> None:
    admin = load_settings(write_config(tmp_path)).admin
    assert (admin.enabled, admin.listen, admin.host, admin.port) == (True, "127.0.0.1:8090", "127.0.0.1", 8090)
    assert admin.tls_cert is None and admin.tls_key is None and not admin.metrics_require_token
    (tmp_path / "cert.pem").write_text("cert")
    (tmp_path / "key.pem").write_text("key")
    main = MAIN + ('\n[admin]\nenabled = false\nlisten = "[::1]:0"\ntls_cert = "cert.pem"\ntls_key = "key.pem"\n'
                   "metrics_require_token = true\n")
    admin = load_settings(write_config(tmp_path, main=main)).admin
    assert (admin.enabled, admin.host, admin.port, admin.metrics_require_token) == (False, "::1", 0, True)
    assert admin.tls_cert == str(tmp_path / "cert.pem") and admin.tls_key == str(tmp_path / "key.pem")


def test_campaign_calling_hours(tmp_path: Path) -> None:
    assert load_settings(write_config(tmp_path)).campaigns["sales"].calling is None
    main = MAIN.replace("[campaigns.sales]\n", '[campaigns.sales]\nhours = { weekdays = "10:00-16:00" }\n'
                        'quiet = "12:30-13:00"\n')
    calling = load_settings(write_config(tmp_path, main=main)).campaigns["sales"].calling
    assert calling is not None
    assert calling.hours == {d: (TimeRange(time(10), time(16)),) for d in WEEKDAYS[:5]}
    assert calling.quiet == (TimeRange(time(12, 30), time(13)),)


def test_missing_file() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings("/nonexistent/screener.toml")
    assert err.value.file == "/nonexistent/screener.toml"
    assert "not found" in err.value.problem


def test_holiday_countries_are_read_from_the_registry_as_the_package_lists_them() -> None:
    """The loader checks a holidays country without importing every country module (0.25 s); it must accept
    exactly the countries and subdivisions ``holidays.list_supported_countries()`` names."""
    import holidays

    from screener.config.policies import _subdivisions, _supported_countries

    listed = holidays.list_supported_countries()
    assert _supported_countries() == frozenset(listed)
    for country in ("US", "CN", "GB", "UK", "CA", "DE"):
        assert _subdivisions(country) == tuple(listed[country])
