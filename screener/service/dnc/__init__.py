"""The DNC use cases: add, remove, check, import, list and export DNC lists (``DncAdmin``), for the CLI, the
admin API and the lab. Front ends import from here, never from ``screener.store``.

* ``admin``: ``DncAdmin``, opened from a Redis URL and optional settings; numbers read once, there;
* ``imports``: a file into a list (full versions switched in one step, or edits), progress and heartbeat;
* ``audit``: the audit entry of every change (its actor, versions before and after);
* ``records``: the frozen results (``to_json()``); ``errors``: what a user can cause (``DncError``).
"""

from screener.service.dnc.admin import EXPORT_FORMATS, DncAdmin
from screener.service.dnc.audit import cli_actor
from screener.service.dnc.errors import (
    BadImportFile,
    BadNumber,
    DncError,
    ExportIncomplete,
    ImportBusy,
    ImportFailed,
    UnknownList,
)
from screener.service.dnc.imports import (
    DEFAULT_BUDGET_BYTES,
    DEFAULT_GRACE_S,
    DEFAULT_STALE_BUILD_S,
    Format,
    ImportOptions,
    ProgressCallback,
    import_file,
)
from screener.service.dnc.records import ImportResult, ListRow, NumberChange, NumberCheck, Progress

__all__ = ["DEFAULT_BUDGET_BYTES", "DEFAULT_GRACE_S", "DEFAULT_STALE_BUILD_S", "EXPORT_FORMATS", "BadImportFile",
           "BadNumber", "DncAdmin", "DncError", "ExportIncomplete", "Format", "ImportBusy", "ImportFailed",
           "ImportOptions", "ImportResult", "ListRow", "NumberChange", "NumberCheck", "Progress", "ProgressCallback",
           "UnknownList", "cli_actor", "import_file"]
