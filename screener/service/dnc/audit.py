"""Every change of a DNC list made through the service becomes an audit entry (kind ``dnc_change``): who or what
made it (the actor: ``cli:<OS user>``, an admin API token's name...), the action, the list, the provenance, how
many numbers it added and removed, the live version before and after, and for a single number the masked number
and its keyed hash (``audit_fields``), with the reason a removal gives."""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime

from screener.config.settings import Settings
from screener.service.audit_fields import DNC_CHANGE, audit_fields
from screener.service.dnc.errors import DncError
from screener.store import audit, keys
from screener.store.client import AnyRedis

#: the actions of a DNC change entry
ADD, REMOVE, IMPORT, REPLACE, CHANGES = "add", "remove", "import", "replace", "changes"
ADD_PREFIX, REMOVE_PREFIX = "add_prefix", "remove_prefix"


def cli_actor() -> str:
    """The actor of a command run from a shell: ``cli:<OS user>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (a container)
        user = f"uid {os.getuid()}"
    return f"cli:{user}"


def change_fields(settings: Settings | None, *, actor: str, action: str, list_name: str, source: str, added: int,
                  removed: int, version_before: str, version_after: str, number: str = "", reason: str = "",
                  **extra: str) -> dict[str, str]:
    """The audit entry of one change of a list (``number``: E.164, for a single number's change)."""
    if not actor.strip():
        raise DncError("a change of a DNC list needs its actor (who or what made it)")
    return audit_fields(DNC_CHANGE, settings, at=datetime.now(UTC), number=number, campaign="", source=source,
                        actor=actor, action=action, list=list_name, added=str(added), removed=str(removed),
                        count=str(added + removed), version_before=version_before, version_after=version_after,
                        reason=reason, **extra)


async def record_change(redis: AnyRedis, settings: Settings | None, fields: dict[str, str], *,
                        number: str = "") -> str:
    """Append the entry through the chain (to the group of ``number``, E.164, when the change is one number's;
    else to the global group); its id. When Redis does not take it, DncError says the change itself was made."""
    try:
        return (await audit.append_many(redis, [(keys.audit_group(number or None), fields)]))[0]
    except Exception as exc:
        raise DncError(f"{fields['action']} on list {fields['list']!r} was made, but its audit entry could not be "
                       f"written ({type(exc).__name__}: {exc})") from exc
