"""Parse ``[complaints.sources.NAME]``: where complaints come from and the working-day deadlines of their tickets.

The built-in sources (``settings.DEFAULT_COMPLAINT_SOURCES``: 12321, ftc, ofcom, internal) are always there;
a table of the same name replaces one, a new name adds a source.
"""

from __future__ import annotations

from zoneinfo import available_timezones

from screener.config.campaigns import check_name
from screener.config.policies import check_holiday_country
from screener.config.reader import Node
from screener.config.settings import DEFAULT_COMPLAINT_SOURCES, ComplaintSource

COMPLAINTS_KEYS = ("sources",)
SOURCE_KEYS = ("country", "subdivision", "time_zone", "stages", "source")
#: the most working days one stage may take
MAX_STAGE_DAYS = 366


def parse_source(name: str, node: Node) -> ComplaintSource:
    node.check_keys(SOURCE_KEYS)
    country, subdivision = "", None
    if node.has("country") and node.string("country").strip():
        country, subdivision = check_holiday_country(node)
    elif node.has("subdivision"):
        raise node.error("subdivision", "needs a country")
    zone = node.string("time_zone", "").strip()
    if zone and zone not in available_timezones():
        raise node.error("time_zone", f"{zone!r} is not an IANA time zone such as Asia/Shanghai")
    stages_node = node.table("stages", required=True)
    stages = []
    for stage in stages_node.data:
        check_name(stages_node, stage, "stage")
        stages.append((stage, stages_node.integer(stage, low=1, high=MAX_STAGE_DAYS)))
    if not stages:
        raise node.error("stages", 'at least one stage, e.g. stages = { reply = 10 } (working days)')
    return ComplaintSource(name=name, stages=tuple(stages), country=country, subdivision=subdivision,
                           time_zone=zone, source=node.string("source", ""))


def parse_complaints(node: Node) -> dict[str, ComplaintSource]:
    """The complaint sources: the built-in ones, then the config's (replacing those of the same name)."""
    node.check_keys(COMPLAINTS_KEYS)
    sources = dict(DEFAULT_COMPLAINT_SOURCES)
    sources_node = node.table("sources")
    for name, source_node in sources_node.children():
        check_name(sources_node, name, "complaint source")
        sources[name] = parse_source(name, source_node)
    return sources
