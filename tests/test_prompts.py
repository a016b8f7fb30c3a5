"""`screener prompts build`: real espeak-ng and sox, checked with soxi."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from screener.config.settings import DisclosureText
from screener.prompts import PromptError, build, check_tools, specs_for
from tests.cli.lab_config import write_config
from tests.factories import lab_campaign, lab_prompt, lab_settings


def soxi(path: Path, flag: str) -> str:
    return subprocess.run(["soxi", flag, str(path)], capture_output=True, text=True, check=True).stdout.strip()


def test_build_renders_8khz_mono_wav_and_16khz_raw(tmp_path: Path) -> None:
    lines: list[str] = []
    rendered = build(lab_settings(), tmp_path, progress=lambda r: lines.append(r.spec.name))
    names = sorted(p.name for p in tmp_path.iterdir())
    lab_en, lab_zh = (lab_prompt(lang).rsplit("/", 1)[1] for lang in ("en", "zh"))
    assert names == sorted(f"{n}.{ext}" for n in (lab_en, lab_zh, "optout-en", "optout-zh", "blocked-en",
                                                  "blocked-zh") for ext in ("wav", "sln16"))
    assert lines == [r.spec.name for r in rendered] and len(lines) == 6
    for r in rendered:
        assert soxi(r.wav, "-r") == "8000" and soxi(r.wav, "-c") == "1" and soxi(r.wav, "-b") == "16"
        assert float(soxi(r.wav, "-D")) > 0.8, r.wav  # real speech, not a click
        assert r.sln16.stat().st_size > 16000 * 2 * 0.8
    disclosure = next(r for r in rendered if r.spec.name == lab_en)
    assert float(soxi(disclosure.wav, "-D")) > 2.0  # a whole sentence
    assert (tmp_path / f"{lab_zh}.wav").exists()  # Mandarin


def test_recordings_are_not_rendered_but_their_language_gets_confirmations() -> None:
    campaign = lab_campaign("acme", disclosures=(DisclosureText("zh", "x", recording="/srv/acme-zh"),))
    names = [s.name for s in specs_for([campaign])]
    assert names == ["optout-zh", "blocked-zh"]


def test_one_campaign_only(tmp_path: Path) -> None:
    other = lab_campaign("other", disclosures=(DisclosureText("en", "Hi."),))
    settings = lab_settings(lab_campaign("lab"), other)
    rendered = build(settings, tmp_path, campaign="other")
    assert [r.spec.name for r in rendered] == [lab_prompt("en", other).rsplit("/", 1)[1], "optout-en", "blocked-en"]
    with pytest.raises(PromptError, match="no campaign 'nope'"):
        build(settings, tmp_path, campaign="nope")


def test_an_edited_text_names_a_new_file_so_the_old_words_are_never_played() -> None:
    before = lab_campaign("acme", disclosures=(DisclosureText("en", "This is Acme. Press 9."),))
    after = lab_campaign("acme", disclosures=(DisclosureText("en", "This is Acme Two. Press 9."),))
    assert lab_prompt("en", before) != lab_prompt("en", after)
    assert lab_prompt("en", before).startswith("custom/screener/acme-en-")
    assert specs_for([after])[0].name == lab_prompt("en", after).rsplit("/", 1)[1]


def test_missing_tools_name_the_debian_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PromptError, match=r"espeak-ng not found.*apt-get install espeak-ng"):
        check_tools()
    (tmp_path / "espeak-ng").symlink_to("/usr/bin/espeak-ng")
    with pytest.raises(PromptError, match=r"sox not found.*apt-get install sox"):
        check_tools()


def test_cli_build(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", "redis://127.0.0.1:1/0")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCREENER_")}
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "screener.cli.main", "--config", str(config), "prompts", "build", "--out", str(out)],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count(".wav") >= 6 and "6 prompt(s)" in proc.stdout
    [lab_zh] = out.glob("lab-zh-*.wav")
    assert soxi(lab_zh, "-r") == "8000"
    proc = subprocess.run(
        [sys.executable, "-m", "screener.cli.main", "--config", str(config), "prompts", "build"],
        capture_output=True, text=True, timeout=120, env={**env, "PATH": str(tmp_path)},
    )
    assert proc.returncode == 2 and "apt-get install espeak-ng" in proc.stderr
