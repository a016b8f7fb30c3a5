"""The shipped ARI dialplan (asterisk/extensions_screener_ari.conf), read as text: it fails closed."""

from __future__ import annotations

from pathlib import Path

CONF = Path(__file__).resolve().parents[2] / "asterisk" / "extensions_screener_ari.conf"


def _context(name: str) -> list[str]:
    lines, inside = [], False
    for raw in CONF.read_text().splitlines():
        line = raw.split(";", 1)[0].strip() if not raw.lstrip().startswith(";") else ""
        if line.startswith("["):
            inside = line == f"[{name}]"
            continue
        if inside and line:
            lines.append(line)
    return lines


def test_the_context_never_dials_and_every_way_out_is_a_403() -> None:
    lines = _context("screener-outbound-ari")
    assert lines, "no [screener-outbound-ari] context"
    text = "\n".join(lines)
    assert "Dial(" not in text and "Goto(" not in text.replace("GotoIf(", "")
    # after Stasis returns: FAILED tries the next application, anything else ends in Hangup(21)
    stasis = next(i for i, line in enumerate(lines) if "Stasis(" in line)
    assert '"${STASISSTATUS}" != "FAILED"]?blocked' in lines[stasis + 1]
    assert lines[-1].endswith("Hangup(21)")
    blocked = next(i for i, line in enumerate(lines) if "n(blocked)" in line)
    assert lines[blocked + 1].endswith("Hangup(21)")


def test_only_filtered_values_reach_the_application() -> None:
    text = "\n".join(_context("screener-outbound-ari"))
    assert "SCREENER_NUMBER_IN=${FILTER(+0123456789,${EXTEN})}" in text
    assert "Stasis(${SCREENER_ARI_APP},${SCREENER_NUMBER_IN},${SCREENER_CAMPAIGN_IN},${SCREENER_TRUNK_IN})" in text
    for var in ("SCREENER_CAMPAIGN_IN", "SCREENER_TRUNK_IN", "SCREENER_ARI_LIST"):
        assert f"Set({var}=${{FILTER(" in text
