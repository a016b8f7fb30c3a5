"""`screener lint-dialplan` on small sample dialplans (clean and leaky) and on the shipped asterisk/ dialplan."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from screener.dialplan_lint import entry_contexts, find_unscreened, read_dialplan
from screener.dialplan_lint.analyze import pattern_matches, trunk_of

REPO = Path(__file__).resolve().parents[1]
SCREEN = 'AGI(agi://127.0.0.1:4573/screen,${EXTEN})\n same => n,GotoIf($["${SCREEN_RESULT}" != "ALLOW"]?no)'


def lint(tmp_path: Path, text: str, *args: str, **files: str) -> tuple[int, str]:
    for name, content in files.items():
        (tmp_path / name.replace("__", ".")).write_text(content)
    path = tmp_path / "extensions.conf"
    path.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "screener.cli.main", "lint-dialplan", str(path), *args],
                          capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout + proc.stderr


def findings(tmp_path: Path, text: str, trunks: tuple[str, ...] = ()) -> list[tuple[str, int, str]]:
    path = tmp_path / "x.conf"
    path.write_text(text)
    plan = read_dialplan(path)
    return [(f.context, f.line, f.entry) for f in find_unscreened(plan, trunks=frozenset(trunks))]


def test_shipped_dialplan_is_clean() -> None:
    proc = subprocess.run([sys.executable, "-m", "screener.cli.main", "lint-dialplan",
                           str(REPO / "asterisk" / "extensions.conf")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "clean" in proc.stdout and "3 file(s)" in proc.stdout
    assert "screener-outbound-ari" in proc.stdout  # the ARI context is included and checked too


def test_direct_dial_to_the_carrier_is_reported(tmp_path: Path) -> None:
    code, out = lint(tmp_path, "[globals]\nX=1\n\n[from-agents]\nexten => _X.,1,NoOp()\n"
                               " same => n,Dial(PJSIP/${EXTEN}@carrier,30)\n")
    assert code == 1
    assert f"{tmp_path / 'extensions.conf'}:6: [from-agents] exten _X.: Dial(PJSIP/${{EXTEN}}@carrier,30)" in out
    assert "dials trunk carrier without the screener" in out


def test_page_originate_and_exec_of_a_dial_to_the_carrier_are_reported(tmp_path: Path) -> None:
    code, out = lint(tmp_path, "[from-agents]\nexten => _1.,1,Page(PJSIP/${EXTEN}@carrier)\n"
                               "exten => _2.,1,Originate(PJSIP/${EXTEN}@carrier,exten,default,s,1)\n"
                               "exten => _3.,1,Exec(Dial(PJSIP/${EXTEN}@carrier))\n")
    assert code == 1
    assert "Page(PJSIP/${EXTEN}@carrier)" in out and "Originate(PJSIP/${EXTEN}@carrier" in out
    assert "Dial(PJSIP/${EXTEN}@carrier)" in out
    assert out.count("dials trunk carrier without the screener") == 3


def test_screened_route_is_clean(tmp_path: Path) -> None:
    text = (f"[from-agents]\nexten => _X.,1,{SCREEN}\n same => n,Dial(PJSIP/${{EXTEN}}@carrier)\n"
            " same => n(no),Hangup(21)\n")
    code, out = lint(tmp_path, text)
    assert code == 0, out


def test_screener_without_a_verdict_check_screens_nothing(tmp_path: Path) -> None:
    assert findings(tmp_path, "[a]\nexten => _X.,1,AGI(agi://h/screen,${EXTEN})\n"
                              " same => n,Dial(PJSIP/${EXTEN}@carrier)\n") == [("a", 3, "a")]
    assert findings(tmp_path, "[a]\nexten => _X.,1,AGI(agi://h/screen,${EXTEN})\n"
                              ' same => n,GotoIf($["${AGISTATUS}" != "SUCCESS"]?x)\n'
                              " same => n,Dial(PJSIP/${EXTEN}@carrier)\n") == [("a", 4, "a")]


def test_the_disclose_script_is_not_screening(tmp_path: Path) -> None:
    text = ("[a]\nexten => _X.,1,AGI(agi://${SCREENER_AGI}/disclose,${EXTEN})\n"
            ' same => n,GotoIf($["${SCREEN_RESULT}" != "ALLOW"]?x)\n same => n,Dial(SIP/carrier/${EXTEN})\n')
    assert findings(tmp_path, text) == [("a", 4, "a")]


def test_internal_dials_are_not_trunks(tmp_path: Path) -> None:
    assert findings(tmp_path, "[a]\nexten => 100,1,Dial(PJSIP/100)\nexten => 101,1,Dial(PJSIP/101&SIP/102,20)\n") == []


def test_trunk_names(tmp_path: Path) -> None:
    text = "[a]\nexten => 200,1,Dial(PJSIP/200@deskphones)\nexten => _9X.,1,Dial(PJSIP/${EXTEN:1}@carrier)\n"
    assert findings(tmp_path, text) == [("a", 2, "a"), ("a", 3, "a")]
    assert findings(tmp_path, text, trunks=("carrier",)) == [("a", 3, "a")]
    assert trunk_of("PJSIP/1@${SCREENER_TRUNK}", frozenset({"carrier"})) == "${SCREENER_TRUNK}"
    assert trunk_of("${DIALSTRING},30", frozenset()) == "${DIALSTRING}"
    assert trunk_of("DAHDI/g1/5551234", frozenset({"carrier"})) == "DAHDI/g1/5551234"
    assert trunk_of("Local/100@internal", frozenset()) is None


def test_include_goto_gosub_and_local_are_followed(tmp_path: Path) -> None:
    text = (
        "[agents]\ninclude => outbound\n\n"
        "[outbound]\nexten => _1X.,1,Dial(PJSIP/${EXTEN}@carrier)\n\n"
        "[dialer]\nexten => _X.,1,Goto(sub-dial,${EXTEN},1)\n\n"
        "[sub-dial]\nexten => _X.,1,Dial(IAX2/provider/${EXTEN})\n\n"
        "[pbx]\nexten => _X.,1,Dial(Local/${EXTEN}@via-local)\n\n"
        "[via-local]\nexten => _X.,1,Dial(PJSIP/${EXTEN}@carrier)\n"
    )
    path = tmp_path / "x.conf"
    path.write_text(text)
    plan = read_dialplan(path)
    assert entry_contexts(plan) == ["agents", "dialer", "pbx"]
    got = {(f.context, f.entry) for f in find_unscreened(plan)}
    assert got == {("outbound", "agents"), ("sub-dial", "dialer"), ("via-local", "pbx")}


def test_subroutine_after_screening_is_clean_before_it_is_not(tmp_path: Path) -> None:
    sub = "[dial-out]\nexten => s,1,Dial(PJSIP/${ARG1}@carrier)\n same => n,Return()\n"
    clean = f"[a]\nexten => _X.,1,{SCREEN}\n same => n,Gosub(dial-out,s,1(${{EXTEN}}))\n same => n(no),Hangup(21)\n"
    assert findings(tmp_path, clean + sub) == []
    leaky = "[a]\nexten => _X.,1,Gosub(dial-out,s,1(${EXTEN}))\n"
    assert findings(tmp_path, leaky + sub) == [("dial-out", 4, "a")]


def test_goto_into_the_shipped_screener_context(tmp_path: Path) -> None:
    assert findings(tmp_path, "[a]\nexten => _X.,1,Goto(screener-outbound,${EXTEN},1)\n") == []
    shipped = (REPO / "asterisk" / "extensions_screener.conf").read_text()
    code, out = lint(tmp_path, "#include extensions_screener.conf\n[agents]\n"
                               "exten => _X.,1,Set(SCREENER_CAMPAIGN=us-sales)\n"
                               " same => n,Goto(screener-outbound,${EXTEN},1)\n",
                     extensions_screener__conf=shipped)
    assert code == 0, out


def test_stasis_and_process_agi(tmp_path: Path) -> None:
    stasis = ('[a]\nexten => _X.,1,Stasis(screener,${EXTEN})\n same => n,GotoIf($["${STASISSTATUS}" = "FAILED"]?x)\n'
              " same => n,Dial(PJSIP/${EXTEN}@carrier)\n")
    assert findings(tmp_path, stasis) == []
    unchecked = "[a]\nexten => _X.,1,Stasis(screener,${EXTEN})\n same => n,Dial(PJSIP/${EXTEN}@carrier)\n"
    assert findings(tmp_path, unchecked) == [("a", 3, "a")]
    process = ("[a]\nexten => _X.,1,AGI(/opt/screener/bin/screener,--config=/etc/s.toml,agi,screen,${EXTEN},lab)\n"
               ' same => n,GotoIf($["${SCREEN_RESULT}" != "ALLOW"]?no)\n same => n,Dial(PJSIP/${EXTEN}@carrier)\n')
    assert findings(tmp_path, process) == []


def test_execif_dial_and_comments(tmp_path: Path) -> None:
    text = ('[a]\n; exten => _X.,1,Dial(PJSIP/${EXTEN}@carrier)\n'
            'exten => _X.,1,ExecIf($["${X}" = "1"]?Dial(PJSIP/${EXTEN}@carrier))  ; a comment\n')
    assert findings(tmp_path, text) == [("a", 3, "a")]


def test_label_jump_skipping_the_screener_is_caught(tmp_path: Path) -> None:
    text = (f"[a]\nexten => _X.,1,GotoIf($[\"${{FAST}}\" = \"1\"]?go)\n same => n,{SCREEN}\n"
            " same => n(go),Dial(PJSIP/${EXTEN}@carrier)\n same => n(no),Hangup(21)\n")
    assert findings(tmp_path, text) == [("a", 5, "a")]


def test_read_errors_exit_2(tmp_path: Path) -> None:
    code, out = lint(tmp_path, "#include missing.conf\n[a]\n")
    assert code == 2 and "missing.conf" in out
    proc = subprocess.run([sys.executable, "-m", "screener.cli.main", "lint-dialplan", str(tmp_path / "nope.conf")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "cannot read" in proc.stderr


@pytest.mark.parametrize("text", ["", "exten => _X.,1,Dial(PJSIP/${EXTEN}@carrier)\n", "; only comments\n",
                                  "[general]\nstatic=yes\n[globals]\nTRUNK=carrier\n"],
                         ids=["empty", "no header", "comments", "settings only"])
def test_a_file_without_a_context_header_is_an_error_not_clean(tmp_path: Path, text: str) -> None:
    code, out = lint(tmp_path, text)
    assert code == 2, out
    assert f"{tmp_path / 'extensions.conf'}: no dialplan [context] header" in out
    assert "clean" not in out


def test_include_loop_is_a_read_error(tmp_path: Path) -> None:
    code, out = lint(tmp_path, "#include extensions.conf\n")
    assert code == 2 and "loop" in out


@pytest.mark.parametrize(
    ("pattern", "exten", "match"),
    [("_X.", "15551234567", True), ("_NXXNXXXXXX", "2025550123", True), ("_NXX", "123", False),
     ("_[+0-9].", "+1555", True), ("s", "s", True), ("_X.", "s", False), ("_X.", "${EXTEN}", True)],
)
def test_pattern_matching(pattern: str, exten: str, match: bool) -> None:
    assert pattern_matches(pattern, exten) is match
