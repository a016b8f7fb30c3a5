"""Render the spoken prompts Asterisk plays: each campaign's disclosure, the opt-out confirmation and the
"not permitted" notice, per language, with espeak-ng (text to speech) and sox (resampling).

Files (named as Asterisk plays them, without extension, under ``custom/screener/``):
  ``<campaign>-<lang>-<digest>``  the campaign's disclosure (skipped when the admin supplied a recording); the
                         digest of its text is in the name, so an edited text needs a new rendering
  ``optout-<lang>``      "You will not be called again. Goodbye."
  ``blocked-<lang>``     "This call is not permitted." (ARI mode)
Each as ``.wav`` (8 kHz mono 16-bit, what narrowband calls play) and ``.sln16`` (16 kHz raw, wideband).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from screener.config.settings import Campaign, Settings
from screener.sounds import blocked_file, disclosure_file, optout_file

#: espeak-ng voice per disclosure language; others use the language code as the voice name
VOICES = {"en": "en-us", "zh": "cmn", "cmn": "cmn"}

OPTOUT_TEXT = {
    "en": "You will not be called again. Goodbye.",
    "zh": "我们不会再给您打电话。再见。",
}
BLOCKED_TEXT = {
    "en": "This call is not permitted.",
    "zh": "此通话不被允许。",
}

#: (program, Debian package) the builder needs
TOOLS = (("espeak-ng", "espeak-ng"), ("sox", "sox"))

_SAFE = re.compile(r"[A-Za-z0-9_.-]+")


class PromptError(Exception):
    """A prompt could not be rendered (missing tool, failing tool, bad name)."""


@dataclass(frozen=True)
class PromptSpec:
    #: file name without extension: ``<campaign>-<lang>``, ``optout-<lang>``, ``blocked-<lang>``
    name: str
    language: str
    text: str


@dataclass(frozen=True)
class Rendered:
    spec: PromptSpec
    wav: Path
    sln16: Path
    seconds: float


def voice_for(language: str) -> str:
    return VOICES.get(language, language)


def specs_for(campaigns: Iterable[Campaign]) -> list[PromptSpec]:
    """Every prompt the campaigns need: their rendered disclosures plus optout/blocked per language."""
    specs: list[PromptSpec] = []
    languages: list[str] = []
    for campaign in campaigns:
        for disclosure in campaign.disclosures:
            if disclosure.language not in languages:
                languages.append(disclosure.language)
            if disclosure.recording:
                continue
            name = disclosure_file(campaign.name, disclosure.language, disclosure.text)
            specs.append(PromptSpec(name, disclosure.language, disclosure.text))
    for language in languages:
        specs.append(PromptSpec(optout_file(language), language, OPTOUT_TEXT.get(language, OPTOUT_TEXT["en"])))
        specs.append(PromptSpec(blocked_file(language), language, BLOCKED_TEXT.get(language, BLOCKED_TEXT["en"])))
    for spec in specs:
        if not _SAFE.fullmatch(spec.name):
            raise PromptError(f"unsafe prompt name {spec.name!r}")
    return specs


def check_tools() -> dict[str, str]:
    """Paths of espeak-ng and sox, or a PromptError naming the Debian package to install."""
    found: dict[str, str] = {}
    for program, package in TOOLS:
        path = shutil.which(program)
        if path is None:
            raise PromptError(f"{program} not found on PATH: install it (Debian/Ubuntu: apt-get install {package})")
        found[program] = path
    return found


def _run(argv: list[str], *, text: str | None = None) -> None:
    try:
        proc = subprocess.run(argv, input=text.encode("utf-8") if text is not None else None,
                              capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PromptError(f"{Path(argv[0]).name} failed: {exc}") from exc
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip()[:500]
        raise PromptError(f"{Path(argv[0]).name} exited with {proc.returncode}: {message}")


def render(spec: PromptSpec, out_dir: Path, tools: dict[str, str]) -> Rendered:
    """espeak-ng → a temporary WAV → sox → ``<name>.wav`` (8 kHz) and ``<name>.sln16``; replaced atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".render-") as tmp:
        raw = Path(tmp) / "speech.wav"
        _run([tools["espeak-ng"], "-v", voice_for(spec.language), "-w", str(raw), "--stdin"], text=spec.text)
        wav_tmp, sln_tmp = Path(tmp) / "out.wav", Path(tmp) / "out.sln16"
        _run([tools["sox"], str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(wav_tmp)])
        _run([tools["sox"], str(raw), "-t", "raw", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer",
              str(sln_tmp)])
        wav, sln16 = out_dir / f"{spec.name}.wav", out_dir / f"{spec.name}.sln16"
        os.replace(wav_tmp, wav)
        os.replace(sln_tmp, sln16)
    seconds = sln16.stat().st_size / (16000 * 2)
    return Rendered(spec, wav, sln16, seconds)


def build(
    settings: Settings,
    out_dir: Path,
    *,
    campaign: str | None = None,
    progress: Callable[[Rendered], None] | None = None,
) -> list[Rendered]:
    """Render the prompts of every campaign (or one) into ``out_dir``."""
    if campaign is not None and campaign not in settings.campaigns:
        raise PromptError(f"no campaign {campaign!r} in the config (known: {', '.join(sorted(settings.campaigns))})")
    campaigns = [settings.campaigns[campaign]] if campaign else list(settings.campaigns.values())
    tools = check_tools()
    done: list[Rendered] = []
    for spec in specs_for(campaigns):
        rendered = render(spec, out_dir, tools)
        done.append(rendered)
        if progress is not None:
            progress(rendered)
    return done
