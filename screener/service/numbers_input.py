"""Numbers typed by a person (the CLI, the admin API): normalized once, here, with a clear error."""

from __future__ import annotations

from screener.config.settings import Campaign, Settings
from screener.numbers import InvalidNumber, normalize
from screener.service.errors import BadNumber, UnknownCampaign

#: the region of a national-format number when neither a campaign nor ``--region`` says it
DEFAULT_REGION = "US"


def e164_of(raw: str, region: str, *, what: str = "number", allow_emergency: bool = False) -> str:
    """``raw`` in E.164; ``BadNumber`` naming it when it is not a valid number (or is an emergency number)."""
    try:
        info = normalize(raw, region)
    except InvalidNumber as exc:
        raise BadNumber(f"invalid {what} {raw!r}: {exc.reason}") from None
    if info.emergency and not allow_emergency:
        raise BadNumber(f"{raw!r} is an emergency number: it cannot be on a DNC list or hold consent")
    return info.e164


def campaign_of(settings: Settings, name: str) -> Campaign:
    campaign = settings.campaigns.get(name)
    if campaign is None:
        raise UnknownCampaign(name, settings.campaigns)
    return campaign
