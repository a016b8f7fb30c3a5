"""DNC lists in Redis, exact and compact at registry scale (docs/dnc-storage.md).

* ``layout``: how one tag's numbers are laid out (pure: tag sets, block intsets, block bitmaps);
* ``lists``: a list's metadata (live version, count, provenance, the build in progress);
* ``lookup``: is a number listed (the decision's 2-key check);
* ``edits``: adding and removing numbers (the opt-out path, change lists): every edit passes ``apply_ops``;
* ``build``: the bulk writer of a version; ``versions``: begin, switch, abort and free versions;
* ``export``: a version read back as numbers; ``files``: reading import files as number batches.

Key names come from ``screener.store.keys``; the Lua scripts are ``screener/store/lua/dnc_*.lua``. The names
below are the ones the rest of the screener uses.
"""

from screener.store.dnc.edits import ADD, REMOVE, add_numbers, apply_ops, remove_numbers
from screener.store.dnc.lists import (
    EMPTY_VERSION,
    ListInfo,
    list_names,
    read_list_infos,
    read_list_states,
    read_list_states_on,
)
from screener.store.dnc.lookup import contains, contains_in, contains_many, lookup_keys

__all__ = ["ADD", "EMPTY_VERSION", "REMOVE", "ListInfo", "add_numbers", "apply_ops", "contains", "contains_in",
           "contains_many", "list_names", "lookup_keys", "read_list_infos", "read_list_states", "read_list_states_on",
           "remove_numbers"]
