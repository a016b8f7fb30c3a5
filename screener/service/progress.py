"""How far a file import is (DNC lists, consent records): reported after each batch, for a progress bar."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """How far an import is (reported after each batch of the file)."""

    bytes_done: int
    bytes_total: int
    #: good entries read so far (numbers, records)
    numbers: int
    bad: int
    elapsed_s: float
    #: "reading" the file, "copying" the live version (DNC additions, change lists), "switched" (it landed)
    phase: str = "reading"


ProgressCallback = Callable[[Progress], None]
