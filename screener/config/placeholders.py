"""The shipped config's placeholder secrets (``change-me...``): `config check` warns about them, `serve` refuses
them outside the lab sandbox, `doctor` reports them. The secrets themselves are never shown."""

from __future__ import annotations

import os
from dataclasses import dataclass

from screener.config.settings import Secret, Settings

#: set to 1 by the lab sandbox (``screener demo``, ``screener.lab.stack.ServerProcess``); a real deployment
#: never sets it
LAB_ENV = "SCREENER_LAB"
PLACEHOLDER_PREFIX = "change-me"


@dataclass(frozen=True)
class Placeholder:
    """A secret key still holding the shipped placeholder: where it is and how to fix it."""

    file: str
    key: str
    fix: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: still the shipped placeholder; {self.fix}"


def is_placeholder(secret: Secret) -> bool:
    return secret.value.strip().lower().startswith(PLACEHOLDER_PREFIX)


def placeholders(settings: Settings) -> list[Placeholder]:
    """Every secret of ``settings`` that still holds a shipped placeholder (the ARI password only when ARI is on)."""
    found = []
    if is_placeholder(settings.audit_salt):
        found.append(Placeholder(settings.path, "screener.audit_salt",
                                 "set it to a long random secret (for example the output of `openssl rand -hex 32`) "
                                 "and keep it: audit hashes of a number depend on it"))
    if settings.ari.enabled and is_placeholder(settings.ari.password):
        found.append(Placeholder(settings.path, "ari.password",
                                 "set the same new password here and in Asterisk's ari.conf ([screener] password=), "
                                 "or disable ARI with [ari] enabled = false"))
    return found


def lab_sandbox() -> bool:
    """True when this process runs for the lab sandbox (``SCREENER_LAB=1``), where placeholders are fine."""
    return os.environ.get(LAB_ENV, "") == "1"
