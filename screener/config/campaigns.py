"""Parse ``[lists.NAME]`` and ``[campaigns.NAME]``, with their references to lists and policies."""

from __future__ import annotations

import re
import string

import phonenumbers

from screener.config.policies import parse_frequency, parse_hours
from screener.config.reader import Node, ranges
from screener.config.settings import Campaign, DisclosureText, DncList, ListKind, Policy, Rules

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")
OPT_OUT_DIGITS = "0123456789*#"
LIST_KEYS = ("kind", "source", "max_age_days", "stale_action")
#: the max_age_days of a registry list that does not set one (the FTC's re-scrub period: TSR 16 CFR
#: 310.4(b)(3)(iv) wants a registry copy no more than 31 days old); other kinds never go stale by default
REGISTRY_MAX_AGE_DAYS = 31
CAMPAIGN_KEYS = (
    "company", "purpose", "subject", "caller_id", "callback_number", "region", "policy", "dnc_lists",
    "consent_required", "consent_purpose", "consent_exempts_registries", "calls_per_second",
    "max_concurrent_calls", "call_lease_s", "opt_out_digit", "frequency", "hours", "quiet", "disclosure",
)  # fmt: skip
DISCLOSURE_KEYS = ("text", "recording")
PLACEHOLDERS = ("company", "purpose", "callback_number", "callback_national", "caller_id", "opt_out_digit")


def check_name(node: Node, name: str, what: str) -> None:
    if not NAME.fullmatch(name):
        raise node.error(name, f"{name!r} is not a valid {what} name (letters, digits, '-', '_' and '.', no spaces)")


def parse_list(name: str, node: Node) -> DncList:
    node.check_keys(LIST_KEYS)
    kind_text = node.string("kind").strip().lower()
    try:
        kind = ListKind(kind_text)
    except ValueError:
        known = ", ".join(k.value for k in ListKind)
        raise node.error("kind", f"{kind_text!r} is not a list kind (one of {known})") from None
    action = node.string("stale_action", "block").strip().lower()
    if action not in ("block", "warn"):
        raise node.error("stale_action", f'{action!r} must be "block" or "warn"')
    return DncList(
        name=name,
        kind=kind,
        source=node.string("source", ""),
        max_age_days=node.integer("max_age_days", REGISTRY_MAX_AGE_DAYS if kind is ListKind.REGISTRY else 0,
                                  low=0, high=3_660),
        stale_action=action,
    )


def e164(node: Node, name: str) -> str:
    value = node.string(name, nonempty=True).strip()
    problem = f"{value!r} is not a valid E.164 number (write it as +<country code><number>, e.g. +12025550100)"
    if not value.startswith("+"):
        raise node.error(name, problem)
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise node.error(name, problem) from None
    if not phonenumbers.is_valid_number(parsed):
        raise node.error(name, problem)
    formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if formatted != value:
        raise node.error(name, f"{value!r} is not in E.164 form: write {formatted}")
    return formatted


def _render(node: Node, text: str, values: dict[str, str]) -> str:
    for _, field, _, _ in string.Formatter().parse(text):
        if field is not None and field not in values:
            raise node.error("text", f"unknown placeholder {{{field}}} (known: {', '.join(PLACEHOLDERS)})")
    try:
        return text.format(**values)
    except (ValueError, IndexError, KeyError) as exc:
        raise node.error("text", f"cannot fill in the placeholders: {exc}") from None


def parse_disclosures(node: Node, values: dict[str, str]) -> tuple[DisclosureText, ...]:
    out = []
    for language, item in node.children():
        if not LANGUAGE.fullmatch(language):
            raise node.error(language, f"{language!r} is not a language tag such as en, zh or en-US")
        item.check_keys(DISCLOSURE_KEYS)
        text = _render(item, item.string("text", nonempty=True).strip(), values)
        recording = item.string("recording", nonempty=True).strip() if item.has("recording") else None
        if recording is None and values["opt_out_digit"] not in text:
            raise item.error(
                "text",
                f"does not tell the callee the opt-out digit {values['opt_out_digit']!r} "
                "(write {opt_out_digit} where it is said)",
            )
        out.append(DisclosureText(language, text, recording))
    if not out:
        raise node.error(None, "missing: at least one language, e.g. [campaigns.NAME.disclosure.en]")
    return tuple(out)


def parse_calling(name: str, node: Node) -> Rules | None:
    """The campaign's own ``hours`` and ``quiet`` (inside its policy's), or None when it sets neither."""
    if not node.has("hours") and not node.has("quiet"):
        return None
    hours = parse_hours(node.table("hours")) if node.has("hours") else {}
    if node.has("hours") and not hours:
        raise node.error("hours", "allows no calls on any day")
    quiet = ranges(node, "quiet", wrap=True) if node.has("quiet") else ()
    return Rules(hours=hours, quiet=quiet)


def parse_campaign(name: str, node: Node, lists: dict[str, DncList], policies: dict[str, Policy]) -> Campaign:
    node.check_keys(CAMPAIGN_KEYS)
    region = node.string("region").strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise node.error("region", f"{region!r} is not a region phonenumbers knows (ISO 3166-1, e.g. US, CN)")
    policy = node.string("policy", nonempty=True).strip()
    if policy not in policies:
        known = ", ".join(policies) or "none defined"
        raise node.error("policy", f'unknown policy "{policy}" (known: {known})')
    dnc_lists = list(node.strings("dnc_lists", ()))
    for i, list_name in enumerate(dnc_lists):
        if list_name not in lists:
            known = ", ".join(lists) or "none defined"
            raise node.error(f"dnc_lists[{i}]", f'unknown list "{list_name}" (known: {known})')
        if dnc_lists.index(list_name) != i:
            raise node.error(f"dnc_lists[{i}]", f'list "{list_name}" is named twice')
    # the internal lists (opt-outs, complaints) apply to every campaign, named or not
    dnc_lists += [n for n, lst in lists.items() if lst.kind is ListKind.INTERNAL and n not in dnc_lists]
    exempts = node.strings("consent_exempts_registries", ())
    for i, list_name in enumerate(exempts):
        if list_name not in dnc_lists or lists[list_name].kind is not ListKind.REGISTRY:
            raise node.error(
                f"consent_exempts_registries[{i}]",
                f'"{list_name}" is not a registry list of this campaign (only registries can be exempted)',
            )
    subject = node.string("subject", name).strip() or name
    if not NAME.fullmatch(subject):
        raise node.error("subject", f"{subject!r} is not a valid subject name (letters, digits, '-', '_' and '.')")
    digit = node.string("opt_out_digit", "9").strip()
    if len(digit) != 1 or digit not in OPT_OUT_DIGITS:
        raise node.error("opt_out_digit", f"{digit!r} must be one key: 0-9, * or #")
    company = node.string("company", nonempty=True).strip()
    purpose = node.string("purpose", nonempty=True).strip()
    caller_id = e164(node, "caller_id")
    callback = e164(node, "callback_number")
    national = phonenumbers.format_number(phonenumbers.parse(callback), phonenumbers.PhoneNumberFormat.NATIONAL)
    values = {
        "company": company,
        "purpose": purpose,
        "callback_number": callback,
        "callback_national": national,
        "caller_id": caller_id,
        "opt_out_digit": digit,
    }
    return Campaign(
        name=name,
        company=company,
        purpose=purpose,
        subject=subject,
        caller_id=caller_id,
        callback_number=callback,
        region=region,
        policy=policy,
        dnc_lists=tuple(dnc_lists),
        consent_required=node.boolean("consent_required", False),
        consent_purpose=node.string("consent_purpose", subject).strip() or subject,
        consent_exempts_registries=exempts,
        calls_per_second=node.integer("calls_per_second", 0, low=0, high=100_000),
        max_concurrent_calls=node.integer("max_concurrent_calls", 0, low=0, high=1_000_000),
        call_lease_s=node.integer("call_lease_s", 7200, low=60, high=7 * 86_400),
        opt_out_digit=digit,
        disclosures=parse_disclosures(node.table("disclosure", required=True), values),
        frequency=tuple(parse_frequency(item) for item in node.tables("frequency")),
        calling=parse_calling(name, node),
    )
