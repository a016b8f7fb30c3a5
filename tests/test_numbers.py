"""screener.numbers: normalization, location (region, state, zones), emergency numbers, masking."""

from __future__ import annotations

import pytest

from screener.numbers import (
    KNOWN_SUBDIVISIONS,
    InvalidNumber,
    country_zones,
    mask,
    normalize,
    subdivision_from_description,
)


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("+13055551234", "US", "+13055551234"),
        ("+1 (305) 555-1234", "US", "+13055551234"),
        ("305.555.1234", "US", "+13055551234"),
        ("(212) 555-1234", "US", "+12125551234"),
        ("1 212 555 1234", "US", "+12125551234"),
        ("011 44 20 7946 0958", "US", "+442079460958"),
        ("0044 20 7946 0958", "GB", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("13800138000", "CN", "+8613800138000"),
        ("010-6552-9988", "CN", "+861065529988"),
        ("+86 138 0013 8000", "US", "+8613800138000"),
        ("416 555 0123", "CA", "+14165550123"),
    ],
)
def test_normalize_accepts_common_formats(raw: str, region: str, e164: str) -> None:
    info = normalize(raw, region)
    assert info.e164 == e164
    assert info.raw == raw
    assert not info.emergency


@pytest.mark.parametrize(
    ("raw", "region", "number_region", "subdivision"),
    [
        ("+13055551234", "US", "US", "FL"),  # geocoder: "Florida"
        ("+15615550123", "US", "US", "FL"),  # "Palm Beach, FL"-style descriptions
        ("+12125551234", "US", "US", "NY"),  # "New York, NY"
        ("+12025550100", "US", "US", "DC"),  # "Washington D.C."
        ("+14055550100", "US", "US", "OK"),
        ("+14105550100", "US", "US", "MD"),
        ("+12065550100", "US", "US", "WA"),  # "Washington State" / "Seattle, WA"
        ("+14165550123", "US", "CA", "ON"),  # a Canadian number dialed by a US campaign
        ("+16045550100", "CA", "CA", "BC"),
        ("+15145550100", "CA", "CA", "QC"),
        ("+19025550100", "CA", "CA", None),  # "Nova Scotia/Prince Edward Island": ambiguous
        ("+18005551234", "US", "US", None),  # toll-free: no state
        ("+8613800138000", "CN", "CN", None),  # only North American numbers get a subdivision
        ("+442079460958", "GB", "GB", None),
    ],
)
def test_region_and_subdivision(raw: str, region: str, number_region: str, subdivision: str | None) -> None:
    info = normalize(raw, region)
    assert info.region == number_region
    assert info.subdivision == subdivision


def test_subdivision_descriptions() -> None:
    assert subdivision_from_description("Florida") == "FL"
    assert subdivision_from_description("New York, NY") == "NY"
    assert subdivision_from_description("Ontario") == "ON"
    assert subdivision_from_description("British Colombia") == "BC"  # a spelling phonenumbers uses
    assert subdivision_from_description("Northwest Territories/Nunavut/Yukon") is None
    assert subdivision_from_description("") is None
    assert subdivision_from_description("Atlantis") is None
    assert {"FL", "OK", "MD", "DC", "ON", "QC", "YT"} <= KNOWN_SUBDIVISIONS
    assert len(KNOWN_SUBDIVISIONS) == 51 + 13


@pytest.mark.parametrize(
    ("raw", "region", "zones"),
    [
        ("+12125551234", "US", {"America/New_York"}),
        ("+13125550100", "US", {"America/Chicago"}),
        ("+12085550100", "US", {"America/Boise", "America/Los_Angeles"}),  # Idaho straddles two zones
        ("+19075551234", "US", {"America/Adak", "America/Anchorage"}),
        ("+8613800138000", "CN", {"Asia/Shanghai"}),
    ],
)
def test_time_zones(raw: str, region: str, zones: set[str]) -> None:
    assert set(normalize(raw, region).time_zones) == zones


def test_toll_free_number_may_be_in_every_nanp_zone() -> None:
    zones = normalize("+1 800 555 1234", "US").time_zones
    assert {"America/New_York", "America/Los_Angeles", "Pacific/Honolulu", "America/Puerto_Rico"} <= set(zones)
    assert len(zones) > 30


def test_unknown_zone_falls_back_to_every_zone_there_is() -> None:
    # +800 (international freephone) has no country and phonenumbers says Etc/Unknown
    info = normalize("+800 1234 5678", "US")
    assert info.region is None
    assert "Etc/Unknown" not in info.time_zones
    assert {"Asia/Shanghai", "America/New_York", "Pacific/Auckland"} <= set(info.time_zones)


def test_country_zones_from_the_tz_database() -> None:
    assert set(country_zones("CN")) == {"Asia/Shanghai", "Asia/Urumqi"}
    assert "America/Chicago" in country_zones("US")
    assert len(country_zones(None)) > 300


@pytest.mark.parametrize(
    ("raw", "region"),
    [("911", "US"), ("112", "DE"), ("112", "US"), ("110", "CN"), ("120", "CN"), ("119", "CN"), ("999", "GB"),
     ("112", "GB"), ("9-1-1", "US")],
)  # fmt: skip
def test_emergency_numbers_of_the_region(raw: str, region: str) -> None:
    info = normalize(raw, region)
    assert info.emergency
    assert info.e164 == raw.replace("-", "")
    assert info.time_zones


def test_emergency_number_of_another_region_is_not_emergency() -> None:
    # 110 is the police in China, not an emergency number in the US (and not a valid US number)
    with pytest.raises(InvalidNumber):
        normalize("110", "US")


@pytest.mark.parametrize(
    ("raw", "region"),
    [("", "US"), ("   ", "US"), ("abc", "US"), ("1-800-FLOWERS", "US"), ("12", "US"), ("+1 555", "US"),
     ("+1 212 555 123", "US"), ("5551234", "US"), ("+999 1234 5678", "US"), ("12345678901234567890", "CN"),
     ("+44 20 7946 095", "GB"), ("212;555", "US")],
)  # fmt: skip
def test_invalid_numbers_raise_with_the_input_named(raw: str, region: str) -> None:
    with pytest.raises(InvalidNumber) as info:
        normalize(raw, region)
    assert info.value.raw == raw
    assert repr(raw) in info.value.reason
    assert str(info.value) == info.value.reason
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        ("+13055551234", "+1305*****34"),
        ("+8613800138000", "+86138******00"),
        ("+442079460958", "+44207*****58"),
        ("+3531234567", "+353123**67"),
        ("911", "911"),
        ("+12345", "+1**45"),
    ],
)
def test_mask(e164: str, masked: str) -> None:
    assert mask(e164) == masked
    assert len(mask(e164)) == len(e164)
