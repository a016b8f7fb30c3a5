"""The names of the sounds Asterisk plays, in one place: each campaign's disclosure per language, the
opt-out confirmation and the "not permitted" notice.

``screener prompts build`` renders files under these names; the service puts them in each decision
(``Decision.disclosure``); the front ends play what the decision says. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from screener.config.settings import Campaign
from screener.decision import Disclosure

#: the folder of the rendered prompts as Asterisk names it (under its sounds directory)
DEFAULT_DIR = "custom/screener"
#: the language of a campaign that has no disclosure text (the config loader requires one)
FALLBACK_LANGUAGE = "en"


@lru_cache(maxsize=4096)
def disclosure_file(campaign: str, language: str, text: str) -> str:
    """``<campaign>-<lang>-<digest>``: the file name (no extension) of a rendered disclosure. The digest of the
    text is in the name, so that a config edit of the text (company, purpose...) names a new file: until it is
    rendered, the prompt is missing and the call is ended, never played with the old words."""
    return f"{campaign}-{language}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def optout_file(language: str) -> str:
    return f"optout-{language}"


def blocked_file(language: str) -> str:
    return f"blocked-{language}"


@dataclass(frozen=True)
class Sounds:
    """Sound names under one folder (``custom/screener`` unless the admin moved the prompts)."""

    folder: str = DEFAULT_DIR

    def _in_folder(self, name: str) -> str:
        return f"{self.folder.rstrip('/')}/{name}"

    def disclosure(self, campaign: Campaign, language: str) -> str:
        """The campaign's disclosure in ``language``: the admin's recording when it has one, else the rendered file."""
        for text in campaign.disclosures:
            if text.language == language:
                return text.recording or self._in_folder(disclosure_file(campaign.name, language, text.text))
        return self._in_folder(disclosure_file(campaign.name, language, ""))

    def optout(self, language: str) -> str:
        """"You will not be called again. Goodbye." """
        return self._in_folder(optout_file(language))

    def blocked(self, language: str) -> str:
        """"This call is not permitted." (played to the agent of a blocked call in ARI mode)"""
        return self._in_folder(blocked_file(language))

    def disclosure_of(self, campaign: Campaign) -> Disclosure:
        """What an allowed call of ``campaign`` needs on answer: its first language's prompt, and every language's."""
        languages = [d.language for d in campaign.disclosures] or [FALLBACK_LANGUAGE]
        first = languages[0]
        return Disclosure(
            company=campaign.company, purpose=campaign.purpose, callback_number=campaign.callback_number,
            opt_out_digit=campaign.opt_out_digit, prompt=self.disclosure(campaign, first), language=first,
            optout_prompt=self.optout(first), prompts={lang: self.disclosure(campaign, lang) for lang in languages},
        )

#: the shipped layout: prompts under ``custom/screener``
DEFAULT_SOUNDS = Sounds()
