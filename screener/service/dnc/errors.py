"""What can go wrong in a DNC request because of what was asked: each error's message says it to a person."""

from __future__ import annotations

from screener.service.errors import BadNumber, InvalidInput

__all__ = ["BadImportFile", "BadNumber", "DncError", "ExportIncomplete", "ImportBusy", "ImportFailed", "UnknownList"]


class DncError(InvalidInput):
    """A DNC request that cannot be carried out as asked (nothing was changed by it)."""


class ImportBusy(DncError):
    """Another import of the same list is running, or took this one over."""


class BadImportFile(DncError):
    """No such file, or a file that cannot be read to its end (a corrupt or truncated archive, an unknown
    column or region): the list was not changed."""


class ImportFailed(DncError):
    """An import that could not be carried out (Redis failed, an error midway): its message says what became
    of the list (not changed, unless it says how to find out)."""


class ExportIncomplete(DncError):
    """An export cut short: an import replaced the list and freed the version it was reading (run it again: it
    reads the new version). What was written before is only part of the list."""


class UnknownList(DncError):
    """A list name the config does not know (``configured``), or, with no config, that Redis does not have."""

    def __init__(self, message: str, *, configured: bool) -> None:
        super().__init__(message)
        self.configured = configured
