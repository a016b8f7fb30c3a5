"""Real FastAGI sessions recorded from Asterisk 22.10.1 (see fixtures/; copied from the asterisk lab).

Each line: ``< `` came from Asterisk, ``> `` was sent to Asterisk, ``= `` is the recorder's note.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = (
    "screen-allow",
    "disclose-press9",
    "disclose-callee-hangs-up",
    "disclose-agent-gone-hangup-before-reply",
)


@dataclass(frozen=True)
class Transcript:
    header: bytes
    #: (command line sent, reply lines received in answer, HANGUP included) in order
    exchanges: tuple[tuple[str, tuple[str, ...]], ...]


def load(name: str) -> Transcript:
    lines = (FIXTURES / f"{name}.txt").read_text().split("\n")
    header = bytearray()
    exchanges: list[tuple[str, list[str]]] = []
    in_header = True
    for line in lines:
        if not line or line.startswith("= "):
            continue
        direction, text = line[0], line[2:]
        if in_header:
            assert direction == "<"
            header += text.encode() + b"\n"
            if text == "":
                in_header = False
        elif direction == ">":
            exchanges.append((text, []))
        else:
            exchanges[-1][1].append(text)
    return Transcript(bytes(header), tuple((c, tuple(r)) for c, r in exchanges))
