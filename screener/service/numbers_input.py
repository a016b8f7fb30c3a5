"""Numbers typed by a person (the CLI, the admin API): normalized once, here, with a clear error."""

from __future__ import annotations

from screener.config.settings import Campaign, Settings
from screener.numbers import InvalidNumber, listable_e164, normalize
from screener.service.errors import BadNumber, UnknownCampaign

#: the region of a national-format number when neither a campaign nor ``--region`` says it
DEFAULT_REGION = "US"


def e164_of(raw: str, region: str, *, what: str = "number", allow_emergency: bool = False) -> str:
    """``raw`` in E.164; ``BadNumber`` naming it when it is not a valid number (or, unless ``allow_emergency``,
    an emergency number: ``screener.numbers.listable_e164``)."""
    try:
        return normalize(raw, region).e164 if allow_emergency else listable_e164(raw, region)
    except InvalidNumber as exc:
        raise BadNumber(f"invalid {what} {raw!r}: {exc.reason}") from None


def campaign_of(settings: Settings, name: str) -> Campaign:
    campaign = settings.campaigns.get(name)
    if campaign is None:
        raise UnknownCampaign(name, settings.campaigns)
    return campaign


#: E.164 has at most 15 digits: a prefix has fewer (a whole number is an exact entry)
_MAX_PREFIX_DIGITS = 14


def prefix_of(raw: str, region: str) -> str:
    """A prefix entry a person typed (``+1 201``, ``+86138``; national digits such as ``201`` or ``0207`` with
    ``region``) as ``+<digits>``; ``BadNumber`` naming it when it is none: no digits past the country code, a
    whole number (an exact entry, not a prefix), or too long."""
    import phonenumbers

    cleaned = "".join(ch for ch in raw if ch not in " -.()")
    if cleaned.startswith("+"):
        digits = cleaned[1:]
    else:
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region.upper())
        code = phonenumbers.country_code_for_region(region.upper())
        if meta is None or not code:
            raise BadNumber(f"invalid prefix {raw!r}: unknown region {region!r}")
        national = cleaned
        if meta.national_prefix and national.startswith(meta.national_prefix):
            national = national[len(meta.national_prefix):]
        digits = f"{code}{national}"
    if not digits.isdigit():
        raise BadNumber(f"invalid prefix {raw!r}: only digits (after an optional '+')")
    cc_len = next((n for n in (1, 2, 3) if int(digits[:n]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE), 0)
    if not cc_len:
        raise BadNumber(f"invalid prefix {raw!r}: no country code starts it")
    if len(digits) <= cc_len:
        raise BadNumber(f"invalid prefix {raw!r}: a prefix needs digits after the country code "
                        "(a whole country is no DNC entry)")
    if len(digits) > _MAX_PREFIX_DIGITS:
        raise BadNumber(f"invalid prefix {raw!r}: {len(digits)} digits, a prefix has at most {_MAX_PREFIX_DIGITS}")
    prefix = "+" + digits
    try:
        if phonenumbers.is_valid_number(phonenumbers.parse(prefix, None)):
            raise BadNumber(f"{raw!r} is a whole number: put it on the list without --prefix")
    except phonenumbers.NumberParseException:
        pass
    return prefix
