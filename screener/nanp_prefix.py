"""North American numbers are decided by their first seven digits: the fast path of ``numbers.normalize``.

phonenumbers decides whether a +1 number is valid, and of which region (US, CA, JM...), by matching its
10-digit national number against the patterns of every region of country code 1. ``prefix_decides``
proves, from the installed metadata, that every such pattern ends in at least three "any digit" positions
(``...\\d{3}``, ``...\\d{4}``), so that whether a 10-digit number matches depends on its first seven digits
only (area code, exchange and one more). Then the answer for one number of a prefix is the answer for all
of its 1,000 numbers, and ``normalize`` computes it once per prefix instead of once per call (parse, validation
and region lookup: tens of microseconds). When the proof fails (a future metadata with another pattern
shape), or the input is not a plain 10-digit North American number, ``normalize`` takes the slow path.

The proof reads the patterns with ``re._parser`` (CPython's regular-expression parser); where it is missing
the fast path is off.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import phonenumbers
from phonenumbers import PhoneMetadata

#: digits of the national number that decide a North American number (area code, exchange, one more)
PREFIX_DIGITS = 7
NATIONAL_DIGITS = 10
_E164 = re.compile(r"\+1([2-9]\d{9})")
#: as dialed in a North American region: the national number, after the national prefix 1 or not
_NATIONAL = re.compile(r"1?([2-9]\d{9})")


def _parser() -> Any:
    try:
        from re import _constants, _parser  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover (another Python than CPython 3.11+)
        return None
    return _parser, _constants


def _any_digit(item: Any, constants: Any) -> tuple[int, int] | None:
    """(min, max) width when the parsed item matches any digit that many times, else None."""
    op, arg = item
    digit = [(constants.CATEGORY, constants.CATEGORY_DIGIT)]
    if op is constants.IN and list(arg) == digit:
        return (1, 1)
    if op in (constants.MAX_REPEAT, constants.MIN_REPEAT):
        low, high, body = arg
        if len(body) == 1 and body[0][0] is constants.IN and list(body[0][1]) == digit:
            return (low, high)
    return None


def _free_tail(sequence: Any, constants: Any) -> int:
    """How many positions at the end of a parsed sequence match any digit, at least. A trailing alternation
    (the parser factors the alternatives' common prefix out: ``5(?:2..|3..)``) counts its least free one."""
    free = 0
    for item in reversed(list(sequence)):
        width = _any_digit(item, constants)
        if width is not None:
            free += width[0]
            continue
        if item[0] is constants.BRANCH:
            free += min(_free_tail(alternative, constants) for alternative in item[1][1])
        break
    return free


def _tail_is_free(pattern: str, parsed_with: Any) -> bool:
    """Whether every alternative of ``pattern`` ends in at least 10 - PREFIX_DIGITS any-digit positions."""
    parser, _ = parsed_with
    return _free_tail(parser.parse(pattern), parsed_with[1]) >= NATIONAL_DIGITS - PREFIX_DIGITS


@cache
def prefix_decides() -> bool:
    """True when, for every region of country code 1, each number pattern phonenumbers validates with (and
    finds the region with) leaves the last 3 of the 10 national digits free: then the first 7 decide."""
    parsed_with = _parser()
    if parsed_with is None:
        return False
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(1, ()):
        metadata = PhoneMetadata.metadata_for_region(region, None)
        if metadata is None:
            return False
        leading = metadata.leading_digits
        # a region chosen by a prefix match: the match must not read past the deciding digits
        if leading is not None and parsed_with[0].parse(leading).getwidth()[1] > PREFIX_DIGITS:
            return False
        for name in dir(metadata):
            desc = getattr(metadata, name, None)
            pattern = getattr(desc, "national_number_pattern", None)
            if isinstance(pattern, str) and not _tail_is_free(pattern, parsed_with):
                return False
    return True


@cache
def emergency_max_digits(region: str) -> int | None:
    """The most digits an emergency number of ``region`` has (None: unknown, check every input)."""
    parsed_with = _parser()
    metadata = PhoneMetadata.short_metadata_for_region(region, None)
    if parsed_with is None or metadata is None or metadata.emergency is None:
        return None
    pattern = metadata.emergency.national_number_pattern
    if pattern is None:
        return 0
    width = int(parsed_with[0].parse(pattern).getwidth()[1])
    return width


def north_american(cleaned: str, region: str) -> str | None:
    """The 10-digit national number of ``cleaned`` (digits and an optional '+', dialed with ``region`` as the
    default) when it is a plain North American number phonenumbers would read as +1 and those digits."""
    match = _E164.fullmatch(cleaned)
    if match is None and phonenumbers.country_code_for_region(region) == 1:
        match = _NATIONAL.fullmatch(cleaned)
    return match.group(1) if match else None
