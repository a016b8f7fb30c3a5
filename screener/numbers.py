"""Dialed numbers: normalize to E.164 (phonenumbers), locate (region, state/province, time zones), mask.

Pure functions over phonenumbers' and tzdata's bundled data; nothing here touches the network. The state or
province of a North American number comes from ``screener.nanp_table`` (built from phonenumbers' geocoding
data by ``python -m screener.nanp_build``), so phonenumbers' geocoder and its 40 MB of data are imported only
when that table was built from another phonenumbers version than the one installed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import shortnumberinfo, timezone

from screener import nanp_prefix

#: ISO 3166-2 suffixes of the US states, DC and the Canadian provinces and territories, by English name
SUBDIVISIONS: dict[str, str] = {
    # United States
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC",
    "Washington D.C.": "DC", "Washington, D.C.": "DC", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS",
    "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA",
    "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO", "Montana": "MT",
    "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM",
    "New York": "NY", "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK",
    "Oregon": "OR", "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC",
    "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT",
    "Virginia": "VA", "Washington": "WA", "Washington State": "WA", "West Virginia": "WV",
    "Wisconsin": "WI", "Wyoming": "WY",
    # Canada
    "Alberta": "AB", "British Columbia": "BC", "British Colombia": "BC", "Manitoba": "MB",
    "New Brunswick": "NB", "Newfoundland and Labrador": "NL", "Newfoundland": "NL",
    "Nova Scotia": "NS", "Ontario": "ON", "Prince Edward Island": "PE", "Quebec": "QC",
    "Québec": "QC", "Saskatchewan": "SK", "Northwest Territories": "NT", "Nunavut": "NU", "Yukon": "YT",
}  # fmt: skip

US_SUBDIVISIONS: frozenset[str] = frozenset(
    code for name, code in SUBDIVISIONS.items() if code not in {
        "AB", "BC", "MB", "NB", "NL", "NS", "ON", "PE", "QC", "SK", "NT", "NU", "YT"}
)  # fmt: skip
CA_SUBDIVISIONS: frozenset[str] = frozenset(SUBDIVISIONS.values()) - US_SUBDIVISIONS
#: every code ``NumberInfo.subdivision`` can take
KNOWN_SUBDIVISIONS: frozenset[str] = US_SUBDIVISIONS | CA_SUBDIVISIONS

_UNKNOWN_ZONE = "Etc/Unknown"
_SEPARATORS = re.compile(r"[\s\-.()]")
_DIALABLE = re.compile(r"\+?[0-9]+")
_CITY_STATE = re.compile(r",\s*([A-Z]{2})$")
_NOT_DIALABLE = re.compile(r"[^0-9+*#]")
#: the longest dialed string a front end passes on
MAX_DIALED_CHARS = 32


def clean_dialed(value: str) -> str:
    """The dialed string as a front end may pass it to the screener: digits, ``+``, ``*`` and ``#`` only
    (``*`` and ``#`` are kept so that a service code is refused as ``invalid_number`` rather than screened
    as the number its digits would make), at most 32 characters."""
    return _NOT_DIALABLE.sub("", value)[:MAX_DIALED_CHARS]


class InvalidNumber(ValueError):
    """A dialed string that is not a valid phone number for the campaign's region.

    ``raw`` is the input; ``reason`` (also ``str()``) is a human sentence that quotes it.
    """

    def __init__(self, raw: str, reason: str) -> None:
        self.raw = raw
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class NumberInfo:
    """A normalized number and where its callee may be."""

    #: the input as dialed
    raw: str
    #: E.164 ("+13055551234"); for an emergency number, the dialed digits ("911")
    e164: str
    #: ISO 3166-1 region of the number ("US"); None for non-geographic numbers (+800...)
    region: str | None
    #: for North American numbers, the state or province of the area code ("FL", "ON"); else None
    subdivision: str | None
    #: every IANA time zone the callee may be in (never empty)
    time_zones: tuple[str, ...]
    emergency: bool = False


def normalize(raw: str, default_region: str) -> NumberInfo:
    """Normalize a dialed number with the campaign's ``default_region``; raise ``InvalidNumber``.

    Accepts "+E.164", national formats and the "00"/"011" international prefixes phonenumbers knows
    for ``default_region``; spaces, dashes, dots and parentheses are ignored. An emergency number of
    ``default_region`` (911, 112, 110, 999...) returns ``emergency=True`` with ``e164`` = its digits.
    Results are cached (numbers are immutable facts; a dialer retries the same numbers).
    """
    return _normalize(raw, default_region.upper())


@lru_cache(maxsize=8192)
def _normalize(raw: str, region: str) -> NumberInfo:
    cleaned = _SEPARATORS.sub("", raw)
    if not cleaned:
        raise InvalidNumber(raw, f"{raw!r} is empty: no digits to dial")
    if not _DIALABLE.fullmatch(cleaned):
        raise InvalidNumber(
            raw, f"{raw!r} is not a phone number: only digits, a leading '+' and spaces ( ) - . are allowed"
        )
    if not cleaned.startswith("+") and _may_be_emergency(cleaned, region) and shortnumberinfo.is_emergency_number(
            cleaned, region):
        return NumberInfo(raw, cleaned, region, None, country_zones(region), emergency=True)
    national = nanp_prefix.north_american(cleaned, region) if nanp_prefix.prefix_decides() else None
    if national is not None:
        return _north_american(raw, region, national)
    try:
        parsed = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(raw, f"{raw!r} cannot be read as a phone number of region {region}: {exc}") from None
    number_region = phonenumbers.region_code_for_number(parsed)
    if number_region is None or not phonenumbers.is_valid_number_for_region(parsed, number_region):
        # is_valid_number, with the region looked up once
        raise InvalidNumber(raw, f"{raw!r} is not a valid phone number (default region {region})")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if not number_region or number_region == "001" or number_region == "ZZ":
        number_region = None
    subdivision, zones = _where(e164, parsed, number_region)
    return NumberInfo(raw=raw, e164=e164, region=number_region, subdivision=subdivision, time_zones=zones)


def could_be_emergency(raw: str, region: str) -> bool:
    """False only when ``normalize(raw, region)`` cannot find an emergency number (a leading '+', or more digits
    than any emergency number of the region has): a cheap test that never says False of an emergency number."""
    cleaned = _SEPARATORS.sub("", raw)
    return not cleaned.startswith("+") and _may_be_emergency(cleaned, region.upper())


def _may_be_emergency(digits: str, region: str) -> bool:
    """False when ``digits`` is longer than any emergency number of ``region`` (no need to ask phonenumbers)."""
    longest = nanp_prefix.emergency_max_digits(region)
    return longest is None or len(digits) <= longest


def _valid_in(parsed: phonenumbers.PhoneNumber, region: str) -> bool:
    """``is_valid_number`` once ``region_code_for_number`` found ``region`` among the +1 regions: a region
    without leading digits is only found when the number matches one of its patterns, which is validity."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    if metadata is not None and metadata.leading_digits is None:
        return True
    return bool(phonenumbers.is_valid_number_for_region(parsed, region))


#: per first seven national digits of a North American number: (region, subdivision, zones), None if invalid
_prefix_cache: dict[str, tuple[str, str | None, tuple[str, ...]] | None] = {}


def _north_american(raw: str, default_region: str, national: str) -> NumberInfo:
    """A +1 number decided by its first seven digits (``nanp_prefix``): once per prefix, then from the cache."""
    prefix = national[:nanp_prefix.PREFIX_DIGITS]
    e164 = "+1" + national
    if prefix in _prefix_cache:
        found = _prefix_cache[prefix]
    else:
        parsed = phonenumbers.PhoneNumber(country_code=1, national_number=int(national))
        number_region = phonenumbers.region_code_for_number(parsed)
        found = None
        if number_region and _valid_in(parsed, number_region):
            found = (number_region, *_where(e164, parsed, number_region))
        if len(_prefix_cache) >= 200_000:
            _prefix_cache.clear()
        _prefix_cache[prefix] = found
    if found is None:
        raise InvalidNumber(raw, f"{raw!r} is not a valid phone number (default region {default_region})")
    number_region, subdivision, zones = found
    return NumberInfo(raw=raw, e164=e164, region=number_region, subdivision=subdivision, time_zones=zones)


def listable_e164(raw: str, default_region: str) -> str:
    """The E.164 form a number is kept under on a DNC list or in the consent ledger; ``InvalidNumber`` when it is
    no valid number, or an emergency number (always allowed unscreened: never on a list, never consented)."""
    info = normalize(raw, default_region)
    if info.emergency or not info.e164.startswith("+"):
        raise InvalidNumber(raw, f"{raw!r} is an emergency number: it cannot be on a DNC list or hold consent")
    return info.e164


#: phonenumbers' time-zone and geocoding prefixes are at most 7 digits long (1 + NPA + NXX for North
#: America), so every number that shares all but its last 4 digits, when at least 7 remain, shares them
_PREFIX_DIGITS = 7


def _where(e164: str, parsed: phonenumbers.PhoneNumber, region: str | None) -> tuple[str | None, tuple[str, ...]]:
    """(subdivision, time zones) of a number, cached per prefix of all but its last 4 digits."""
    prefix = e164[:-4]
    if len(prefix) - 1 >= _PREFIX_DIGITS:
        return _where_cached(prefix, region, parsed)
    return _subdivision(parsed, region), _time_zones(parsed, region)


_where_cache: dict[tuple[str, str | None], tuple[str | None, tuple[str, ...]]] = {}


def _where_cached(prefix: str, region: str | None,
                  parsed: phonenumbers.PhoneNumber) -> tuple[str | None, tuple[str, ...]]:
    key = (prefix, region)
    found = _where_cache.get(key)
    if found is None:
        if len(_where_cache) >= 65_536:
            _where_cache.clear()
        found = _where_cache[key] = (_subdivision(parsed, region), _time_zones(parsed, region))
    return found


def emergency_with_no_campaign(dialed: str, regions: set[str]) -> bool:
    """With no campaign to say the region: True for an emergency number of one of ``regions`` that is not
    also an ordinary number in any of them (2611 is an emergency number in India and a subscriber in
    Luxembourg: that one is not let through unscreened)."""
    digits = dialed.strip()
    if not (digits.isascii() and digits.isdigit()):
        return False  # "+112", "*911", "9*1*1": not a bare emergency number, so screened like any other
    if not any(shortnumberinfo.is_emergency_number(digits, r) for r in regions):
        return False
    for region in regions:
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(digits, region)):
                return False
        except phonenumbers.NumberParseException:
            continue
    return True


def example_number(region: str) -> str | None:
    """An ordinary E.164 number of ``region`` (phonenumbers' example), to warm caches up; None if it has none."""
    example = phonenumbers.example_number(region)
    return None if example is None else phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)


def mask(e164: str) -> str:
    """A number for logs: country code and the next 3 digits, stars, the last 2 ("+1305*****34")."""
    if not e164.startswith("+"):
        digits = e164
        return digits if len(digits) <= 5 else digits[:3] + "*" * (len(digits) - 5) + digits[-2:]
    cc_len = _country_code_length(e164[1:])
    keep_head = 1 + cc_len + 3
    if len(e164) <= keep_head + 2:
        # too short to keep that much: keep the "+" and the country code only
        keep_head = 1 + cc_len
        if len(e164) <= keep_head + 2:
            return e164[:keep_head] + "*" * (len(e164) - keep_head)
    return e164[:keep_head] + "*" * (len(e164) - keep_head - 2) + e164[-2:]


def _country_code_length(digits: str) -> int:
    for n in (1, 2, 3):
        if digits[:n].isdigit() and int(digits[:n]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return n
    return min(3, len(digits))


def _subdivision(parsed: phonenumbers.PhoneNumber, region: str | None) -> str | None:
    """The state or province of a US/CA number's area code, or None (unknown, or several)."""
    if region not in ("US", "CA"):
        return None
    code = _nanp_subdivision(parsed) if _table_is_current() else _geocoded_subdivision(parsed)
    allowed = US_SUBDIVISIONS if region == "US" else CA_SUBDIVISIONS
    return code if code in allowed else None


@lru_cache(maxsize=1)
def _table_is_current() -> bool:
    from screener import nanp_table  # here: screener.nanp_build imports this module to build the table

    return phonenumbers.__version__ == nanp_table.PHONENUMBERS_VERSION


def _nanp_subdivision(parsed: phonenumbers.PhoneNumber) -> str | None:
    """What ``_geocoded_subdivision`` answers, from the prebuilt table."""
    from screener import nanp_table

    national = str(parsed.national_number)
    code = nanp_table.AREA_CODES.get(national[:3])
    if code is not None or not _geographic(parsed):
        return code
    digits = "1" + national
    for length in range(len(digits), 4, -1):  # the longest prefix with an entry, as the geocoder looks it up
        if digits[:length] in nanp_table.PREFIXES:
            return nanp_table.PREFIXES[digits[:length]]
    return None


def _geographic(parsed: phonenumbers.PhoneNumber) -> bool:
    """Whether phonenumbers' geocoder describes the number by its area (else by its country: no subdivision)."""
    kind = phonenumbers.number_type(parsed)
    return kind != phonenumbers.PhoneNumberType.UNKNOWN and phonenumbers.is_number_type_geographical(
        kind, parsed.country_code or 0)


def _geocoded_subdivision(parsed: phonenumbers.PhoneNumber) -> str | None:
    """The area code's own geocoding entry ("Florida", "New York, NY"); the number's longest-prefix description
    (a city, sometimes without its state) only when the area code has none. Imports the geocoding data."""
    from phonenumbers import geocoder
    from phonenumbers.geodata import GEOCODE_DATA

    area_code = str(parsed.national_number)[:3]
    code = subdivision_from_description(GEOCODE_DATA.get("1" + area_code, {}).get("en", ""))
    if code is None:
        code = subdivision_from_description(geocoder.description_for_number(parsed, "en"))
    return code


def subdivision_from_description(description: str) -> str | None:
    """ "Florida" -> "FL", "New York, NY" -> "NY"; None for "" or a list of several ("Nunavut/Yukon")."""
    description = description.strip()
    if not description or "/" in description:
        return None
    match = _CITY_STATE.search(description)
    if match and match.group(1) in KNOWN_SUBDIVISIONS:
        return match.group(1)
    return SUBDIVISIONS.get(description)


def _time_zones(parsed: phonenumbers.PhoneNumber, region: str | None) -> tuple[str, ...]:
    zones = tuple(z for z in timezone.time_zones_for_number(parsed) if z != _UNKNOWN_ZONE and _loadable(z))
    if zones:
        return zones
    return country_zones(region)


@lru_cache(maxsize=1024)
def _loadable(zone: str) -> bool:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@lru_cache(maxsize=1)
def _zone_table() -> dict[str, tuple[str, ...]]:
    """Country -> zones, from the tz database's zone.tab (the ``tzdata`` package)."""
    table: dict[str, list[str]] = {}
    text = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) >= 3 and _loadable(fields[2]):
            table.setdefault(fields[0], []).append(fields[2])
    return {country: tuple(zones) for country, zones in table.items()}


@lru_cache(maxsize=256)
def country_zones(region: str | None) -> tuple[str, ...]:
    """Every zone of a country; for an unknown country every zone there is (the strictest choice)."""
    table = _zone_table()
    if region and region in table:
        return table[region]
    return tuple(sorted({z for zones in table.values() for z in zones}))
