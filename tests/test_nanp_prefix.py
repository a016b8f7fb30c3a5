"""The North American fast path of ``normalize`` answers exactly as phonenumbers' own parse, validation and
region lookup would, for valid and invalid numbers of every +1 region, in every dialed form."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from screener import nanp_prefix, numbers
from screener.numbers import InvalidNumber, NumberInfo


def slow(raw: str, region: str) -> NumberInfo | None:
    """phonenumbers' answer, step by step (None: not a valid number)."""
    parsed = phonenumbers.parse(raw, region)
    if not phonenumbers.is_valid_number(parsed):
        return None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    number_region = phonenumbers.region_code_for_number(parsed)
    subdivision, zones = numbers._where(e164, parsed, number_region)
    return NumberInfo(raw=raw, e164=e164, region=number_region, subdivision=subdivision, time_zones=zones)


def fast(raw: str, region: str) -> NumberInfo | None:
    numbers._normalize.cache_clear()
    try:
        return numbers.normalize(raw, region)
    except InvalidNumber:
        return None


def samples(seed: int, count: int) -> list[str]:
    """10-digit national numbers: real area codes of every +1 region and random ones (many invalid)."""
    rng = random.Random(seed)
    area_codes = ["201", "212", "305", "808", "907", "416", "514", "604", "876", "658", "246", "787", "939", "809",
                  "829", "849", "671", "670", "684", "340", "268", "264", "441", "242", "767", "473", "869", "345",
                  "758", "664", "721", "649", "868", "784", "284", "800", "833", "844", "855", "866", "877", "888",
                  "900", "500", "521", "522", "523", "524", "533", "544", "566", "577", "588", "700", "710"]
    out = []
    for i in range(count):
        npa = rng.choice(area_codes) if i % 3 else f"{rng.randint(200, 999)}"
        out.append(f"{npa}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}")
    return out


def test_the_installed_metadata_lets_seven_digits_decide() -> None:
    assert nanp_prefix.prefix_decides()  # else the fast path is off: normalize would still be right, but slower


@pytest.mark.parametrize("region", ["US", "CA", "JM", "PR"])
def test_every_form_of_a_north_american_number_is_read_as_phonenumbers_reads_it(region: str) -> None:
    numbers._prefix_cache.clear()
    for national in samples(hash(region) & 0xFFFF, 1500):
        for raw in (f"+1{national}", national, f"1{national}"):
            assert fast(raw, region) == slow(raw, region), (raw, region)


def test_the_prefix_cache_gives_each_number_of_a_prefix_the_same_answer_as_the_first() -> None:
    numbers._prefix_cache.clear()
    for national in samples(7, 400):
        first = fast(f"+1{national}", "US")
        for suffix in ("000", "999", "123", national[-3:]):
            other = national[:7] + suffix
            assert fast(f"+1{other}", "US") == slow(f"+1{other}", "US"), other
            assert (first is None) == (fast(f"+1{other}", "US") is None)


def test_international_input_in_another_region_and_emergency_numbers_take_the_usual_path() -> None:
    assert fast("+12125550142", "GB") == slow("+12125550142", "GB")
    assert fast("00112125550142", "GB") == slow("00112125550142", "GB")  # GB's international prefix
    assert fast("01112125550142", "US") == slow("01112125550142", "US")  # 011
    assert numbers.normalize("911", "US").emergency and numbers.normalize("112", "GB").emergency
    assert nanp_prefix.emergency_max_digits("US") == 3
