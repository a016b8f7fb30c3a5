"""Every Redis key name the screener uses, in one place.

Hash tags keep one decision in one slot: every key that a decision about a number touches carries the
tag ``{<number minus its last 7 digits>}`` (for +1 201 555 1234: ``{+1201}``, an area code), so a
decision's keys (DNC blocks of every list, consent, attempts, refusal) share one Redis Cluster slot,
while a national list still spreads over as many slots as it has area codes.
"""

from __future__ import annotations

PREFIX = "scr"

#: digits after the tag: the tag covers 10**7 numbers
TAG_SUFFIX_DIGITS = 7
#: digits inside one DNC sub-block: a sub-block covers 10**4 numbers
BLOCK_SUFFIX_DIGITS = 4

#: the audit group of entries about no one number (admin actions, config changes, archive runs, numbers that
#: are not E.164); every other entry is in the group of its number's hash tag (``+1201``)
AUDIT_GLOBAL_GROUP = "global"
#: a set of every audit group that has a stream (written outside any decision's slot; see ``audit_stream_key``)
AUDIT_GROUPS_KEY = f"{PREFIX}:audit:groups"
#: a string: the id of the archive that trims the audit streams (one archive per deployment)
AUDIT_ARCHIVE_OWNER_KEY = f"{PREFIX}:audit:archive:owner"
#: seconds an attempt is remembered (longest supported frequency window: 31 days)
ATTEMPT_RETENTION_S = 31 * 86_400


def number_tag(e164: str) -> str:
    """The hash tag of a number: all but its last 7 digits (or its first 2 characters when it is shorter)."""
    cut = max(2, len(e164) - TAG_SUFFIX_DIGITS)
    return e164[:cut]


def number_keys(e164: str) -> tuple[str, str, str, str, int, int]:
    """What a decision needs of a number's key names, its tag worked out once: the attempts, consent and refusal
    keys, its block id, its suffix inside its tag and inside its block (``attempts_key``, ``consent_key``,
    ``refusal_key``, ``block_id``, ``tag_suffix``, ``block_suffix``)."""
    tag = number_tag(e164)
    cut = len(tag)
    rest = e164[cut:]
    head = f"{PREFIX}:{{{tag}}}"
    return (f"{head}:att:{e164}", f"{head}:consent:{e164}", f"{head}:refused:{e164}",
            e164[cut:max(cut, len(e164) - BLOCK_SUFFIX_DIGITS)], int(rest) if rest else 0,
            int(e164[-BLOCK_SUFFIX_DIGITS:]))


def tag_suffix(e164: str) -> int:
    """The digits after the tag, as an integer (the member in a tag-level DNC set)."""
    rest = e164[len(number_tag(e164)) :]
    return int(rest) if rest else 0


def block_id(e164: str) -> str:
    """The 10**4-number sub-block of a number inside its tag: the digits between the tag and the last 4."""
    return e164[len(number_tag(e164)) : max(len(number_tag(e164)), len(e164) - BLOCK_SUFFIX_DIGITS)]


def block_suffix(e164: str) -> int:
    """The last 4 digits of a number, as an integer (the member or bit offset in a sub-block key)."""
    return int(e164[-BLOCK_SUFFIX_DIGITS:])


def dnc_tag_key(list_name: str, version: str, e164: str) -> str:
    """A DNC list's small set for the numbers of one tag (used while that tag holds few numbers)."""
    return dnc_tag_set_key(list_name, version, number_tag(e164))


def dnc_block_key(list_name: str, version: str, e164: str) -> str:
    """A DNC list's sub-block of 10**4 numbers: an intset of the last 4 digits, or a 10,000-bit bitmap."""
    return dnc_tag_block_key(dnc_tag_key(list_name, version, e164), block_id(e164))


def dnc_tag_set_key(list_name: str, version: str, tag: str) -> str:
    """``dnc_tag_key`` of a tag (``+1201``) rather than of a number."""
    return f"{PREFIX}:{{{tag}}}:dnc:{list_name}:{version}"


def dnc_tag_block_key(tag_key: str, block: str) -> str:
    """The block key of block id ``block`` (``555``; shorter for very short numbers) of a tag set's tag."""
    return f"{tag_key}:{block}"


def dnc_freed_key(tag_key: str) -> str:
    """A marker beside a tag set (same slot): that list version's keys of this tag were freed (a replaced version
    after its grace period). A reader that finds it knows the version it was told to read is gone."""
    return f"{tag_key}:freed"


def dnc_merge_scratch_key(block_key: str) -> str:
    """A scratch key beside a block key (same slot), used and deleted inside one script."""
    return f"{block_key}:merge"


def dnc_version_tags_key(list_name: str, version: str) -> str:
    """A set of the tags (``+1201``; ``+6/83`` = tag/block for very short numbers) a list version has keys in."""
    return f"{PREFIX}:dncver:{list_name}:{version}"


def dnc_meta_key(list_name: str) -> str:
    """A hash: current version, source, imported_at, count (the live version is switched here, in one step)."""
    return f"{PREFIX}:dncmeta:{list_name}"


#: a set of every DNC list name that has metadata
DNC_LISTS_KEY = f"{PREFIX}:dnclists"


def attempts_key(e164: str) -> str:
    """A sorted set of a number's attempts: member ``<ms>|<campaign>|<subject>|<id>``, score the time in ms."""
    return f"{PREFIX}:{{{number_tag(e164)}}}:att:{e164}"


def consent_key(e164: str) -> str:
    """A hash of a number's consent records: field = purpose, value = JSON record."""
    return f"{PREFIX}:{{{number_tag(e164)}}}:consent:{e164}"


def consent_log_key(e164: str) -> str:
    """The consent ledger's append-only history of the number's tag (every grant and revoke, with the number),
    in the same slot as the number's records (not matched by ``CONSENT_KEY_PATTERN``)."""
    return f"{PREFIX}:{{{number_tag(e164)}}}:consentlog"


#: the pattern of every tag's consent history stream (SCAN MATCH)
CONSENT_LOG_PATTERN = f"{PREFIX}:{{*}}:consentlog"
#: the pattern of every number's consent hash (SCAN MATCH; every node of a cluster)
CONSENT_KEY_PATTERN = f"{PREFIX}:{{*}}:consent:*"


def refusal_key(e164: str) -> str:
    """A string: the time (ms) of the number's last refusal (opt-out press or spoken refusal)."""
    return f"{PREFIX}:{{{number_tag(e164)}}}:refused:{e164}"


def audit_group(number: str | None) -> str:
    """The audit group of an entry about ``number``: its hash tag when it is E.164 (``+1201``), else the global
    group (an emergency number's digits, an invalid input, no number at all)."""
    if number and number.startswith("+") and number[1:].isdigit() and len(number) > 2:
        return number_tag(number)
    return AUDIT_GLOBAL_GROUP


def audit_stream_key(group: str) -> str:
    """The audit stream of one group: time-ordered, append-only, one hash chain (in the group's slot)."""
    return f"{PREFIX}:{{{group}}}:audit"


def audit_head_key(group: str) -> str:
    """A string: the chain head of the group's stream, ``<link hex> <last id> <entries appended>``."""
    return f"{PREFIX}:{{{group}}}:audit:head"


def audit_group_of_key(stream_key: str) -> str:
    """The group of an audit stream key (the inverse of ``audit_stream_key``)."""
    return stream_key[stream_key.index("{") + 1 : stream_key.rindex("}")]


def config_version_key(version: str) -> str:
    """A string: the text of the config files of one version (JSON, secrets redacted), content-addressed."""
    return f"{PREFIX}:config:{version}"


#: a sorted set of every config version stored (score: when it was first stored, epoch ms)
CONFIG_VERSIONS_KEY = f"{PREFIX}:config:versions"


def rate_key(campaign: str) -> str:
    """A string ``<second>|<calls>``: the calls the campaign started in that second of the Redis server's clock
    (one server or a Sentinel master; decide.lua)."""
    return f"{PREFIX}:{{c:{campaign}}}:rate"


# -- a campaign's limits (calls per second, concurrent calls): docs/redis-topologies.md ---------------------


def calls_key(campaign: str) -> str:
    """A sorted set of the campaign's calls in progress: member = call id (or, on a Redis Cluster, a screener's
    unused allowance ``h:<holder>:<n>``), score = the epoch ms its lease ends."""
    return f"{PREFIX}:{{c:{campaign}}}:calls"


def call_ended_key(campaign: str, call_id: str) -> str:
    """A short-lived marker: the call's end was reported before its allowance was bound to it (Cluster)."""
    return f"{PREFIX}:{{c:{campaign}}}:ended:{call_id}"


def rate_lease_key(campaign: str) -> str:
    """A string ``<second>|<calls handed out>``: the campaign's calls per second leased to screeners (Cluster)."""
    return f"{PREFIX}:{{c:{campaign}}}:ratelease"


def slot_unused_key(e164: str) -> str:
    """A key in the number's slot that nothing writes: what a Cluster decision passes where one server's
    decision passes a campaign counter (every key of a script must be in one slot)."""
    return f"{PREFIX}:{{{number_tag(e164)}}}:unused"


def abandoned_key(e164: str) -> str:
    """A hash of the number's last abandoned call per campaign: field = campaign, value = epoch ms (read by
    decide.lua for the policy's lock-out after an abandoned call)."""
    return f"{PREFIX}:{{{number_tag(e164)}}}:abandoned:{e164}"


def abandonment_key(campaign: str) -> str:
    """A hash of a campaign's answered calls per hour: field ``n:<hour>`` answered, ``a:<hour>`` abandoned
    (hours since the epoch), for the rolling abandoned-call rate."""
    return f"{PREFIX}:{{c:{campaign}}}:abandonment"


def answered_call_key(campaign: str, record_id: str) -> str:
    """A marker that the answered call's record ``record_id`` (made when the call was reported) is counted
    in the campaign's abandonment hash: a spool writing the record again does not count it twice
    (``abandonment_count.lua``), and a record marked done is skipped."""
    return f"{PREFIX}:{{c:{campaign}}}:answered:{record_id}"


#: complaint tickets share one hash tag: a ticket and its indexes change together, in one slot
COMPLAINTS_TAG = "{complaints}"
#: a counter: the last ticket number given
COMPLAINT_SEQ_KEY = f"{PREFIX}:{COMPLAINTS_TAG}:seq"
#: a sorted set of the open tickets: member = ticket id, score = epoch ms of its next deadline
COMPLAINTS_OPEN_KEY = f"{PREFIX}:{COMPLAINTS_TAG}:open"
#: a sorted set of every ticket: member = ticket id, score = epoch ms it was received
COMPLAINTS_ALL_KEY = f"{PREFIX}:{COMPLAINTS_TAG}:all"


def complaint_key(ticket_id: str) -> str:
    """A hash: one complaint ticket's fields."""
    return f"{PREFIX}:{COMPLAINTS_TAG}:t:{ticket_id}"


def complaint_number_key(number_hash: str) -> str:
    """A set of the ticket ids about one number, found by the number's keyed hash (the audit trail's)."""
    return f"{PREFIX}:{COMPLAINTS_TAG}:num:{number_hash}"


#: the admin API's tokens, a hash: field = token name, value = JSON {role, digest, created}; only a digest
#: of each token is stored (the token itself is shown once, when created)
ADMIN_TOKENS_KEY = f"{PREFIX}:{{admin}}:tokens"
#: a hash: the SHA-256 of a token -> JSON {name, role} (what an API request looks up)
ADMIN_TOKEN_DIGESTS_KEY = f"{PREFIX}:{{admin}}:digests"
#: a sorted set of the screeners alive: member = screener id, score = epoch ms of its last heartbeat
SCREENERS_ALIVE_KEY = f"{PREFIX}:{{screeners}}:alive"
#: a hash: screener id -> JSON {host, pid, version, started} (pruned with the sorted set)
SCREENERS_INFO_KEY = f"{PREFIX}:{{screeners}}:info"


def stats_key(granularity: str, bucket: str) -> str:
    """A hash of decision counts for one minute ("m", bucket YYYYmmddHHMM) or hour ("h", YYYYmmddHH), UTC:
    fields ``v|<campaign>|<verdict>``, ``r|<campaign>|<reason>``, ``g|<region>|<verdict>``, ``o|<campaign>``."""
    return f"{PREFIX}:stats:{granularity}:{bucket}"
