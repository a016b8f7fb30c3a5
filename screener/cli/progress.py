"""A progress bar with rate and ETA on a terminal (``dnc import``, ``consent import``); nothing otherwise,
unless ``--progress always`` (a log that wants it) or ``never`` (a terminal that does not)."""

from __future__ import annotations

import time
from typing import Any, TextIO

from screener.service.progress import Progress


def _rate(per_s: float) -> str:
    return f"{per_s / 1e6:.2f} M/s" if per_s >= 1e6 else f"{per_s:,.0f}/s"


#: the choices of ``--progress``
MODES = ("auto", "always", "never")


def add_progress_option(parser: Any) -> None:
    parser.add_argument("--progress", choices=MODES, default="auto",
                        help="a progress bar with rate and ETA on stderr: auto (on a terminal, the default), "
                             "always, never")


class ProgressBar:
    """A progress bar with rate and ETA on a terminal (``mode`` auto), always, or never."""

    def __init__(self, stream: TextIO, unit: str, mode: str = "auto") -> None:
        self.stream = stream
        self.unit = unit
        self.tty = mode == "always" or (mode == "auto" and stream.isatty())
        self.last = 0.0
        self.phase = ""

    def __call__(self, p: Progress) -> None:
        self.phase = p.phase
        now = time.monotonic()
        if not self.tty or now - self.last < 0.2:
            return
        self.last = now
        frac = min(1.0, p.bytes_done / p.bytes_total) if p.bytes_total else 0.0
        rate = p.numbers / p.elapsed_s if p.elapsed_s > 0 else 0.0
        eta = (p.elapsed_s / frac - p.elapsed_s) if frac > 0 else 0.0
        bar = "#" * int(frac * 30)
        self.stream.write(f"\r[{bar:<30}] {frac * 100:5.1f}%  {p.numbers:,} {self.unit}  {_rate(rate)}  "
                          f"bad {p.bad:,}  ETA {int(eta) // 60}:{int(eta) % 60:02d} ")
        self.stream.flush()

    def done(self) -> None:
        if self.tty and self.last:
            self.stream.write("\n")
            self.last = 0.0
