"""The prebuilt North American table (screener/nanp_table.py) answers as phonenumbers' geocoder does, and lets
``normalize`` locate a number without importing the geocoder's 40 MB of data."""

from __future__ import annotations

import random
import subprocess
import sys

import phonenumbers
from phonenumbers.geodata import GEOCODE_DATA

from screener import nanp_table
from screener.nanp_build import NanpTable, build_table
from screener.numbers import _geocoded_subdivision, _nanp_subdivision, _table_is_current, normalize


def test_the_shipped_table_is_what_the_installed_phonenumbers_builds() -> None:
    """Fails after a phonenumbers upgrade until ``python -m screener.nanp_build`` is run (until then the screener
    uses the geocoder itself: slower, never wrong)."""
    shipped = NanpTable(nanp_table.PHONENUMBERS_VERSION, nanp_table.AREA_CODES, nanp_table.PREFIXES)
    assert shipped == build_table()
    assert _table_is_current()
    assert len(shipped.area_codes) > 400 and shipped.prefixes


def _sample_numbers() -> list[phonenumbers.PhoneNumber]:
    """Valid US/CA numbers under every North American geocoding prefix (padded with 5s, and with random digits),
    and random numbers in every area code: every entry of the table and the gaps between them."""
    rng = random.Random(2026)
    candidates = []
    for prefix in GEOCODE_DATA:
        if prefix.startswith("1"):
            candidates.append(prefix + "5" * (11 - len(prefix)))
            candidates.append(prefix + "".join(rng.choices("0123456789", k=11 - len(prefix))))
    for area in {p[1:4] for p in GEOCODE_DATA if p.startswith("1") and len(p) >= 4} | {"800", "888", "500", "900"}:
        candidates += [f"1{area}{rng.randint(2_000_000, 9_999_999)}" for _ in range(15)]
    out = []
    for digits in candidates:
        parsed = phonenumbers.parse("+" + digits)
        if phonenumbers.is_valid_number(parsed) and phonenumbers.region_code_for_number(parsed) in ("US", "CA"):
            out.append(parsed)
    return out


def test_the_table_answers_as_the_geocoder_for_every_prefix_and_area_code() -> None:
    numbers = _sample_numbers()
    assert len(numbers) > 50_000
    located = 0
    for parsed in numbers:
        assert _nanp_subdivision(parsed) == _geocoded_subdivision(parsed), parsed
        located += _nanp_subdivision(parsed) is not None
    assert located > 0.9 * len(numbers)
    # the area codes whose own entry names no single state or province: the longer prefixes decide
    for raw, expected in (("+12035550123", "CT"), ("+17185550123", "NY"), ("+19055550123", "ON")):
        parsed = phonenumbers.parse(raw)
        assert nanp_table.AREA_CODES.get(raw[2:5]) is None
        assert _nanp_subdivision(parsed) == _geocoded_subdivision(parsed)
        assert normalize(raw, "US").subdivision == expected


def test_locating_numbers_does_not_import_the_geocoding_data() -> None:
    code = (
        "import sys\n"
        "from screener.numbers import normalize\n"
        "print(normalize('+13055551234', 'US').subdivision, normalize('416 555 0123', 'CA').subdivision,\n"
        "      normalize('+12035550123', 'US').subdivision, normalize('+442079460958', 'US').region)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('phonenumbers.geo', 'phonenumbers.geocoder'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    located, imported = out.stdout.splitlines()
    assert located.split() == ["FL", "ON", "CT", "GB"]
    assert imported == "[]"
