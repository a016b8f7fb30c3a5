"""`screener lint-dialplan PATH`: report every outbound route that reaches a trunk without the screener."""

from __future__ import annotations

import argparse
from typing import Any

from screener.cli.usage import fail
from screener.dialplan_lint import DialplanReadError, entry_contexts, find_unscreened, read_dialplan

DESCRIPTION = """\
Reads an Asterisk extensions.conf (and the files it #includes) and reports every context that can reach
a Dial() to a trunk without passing through the screener: AGI(agi://HOST/screen,...) or the process AGI
(`screener agi screen`) followed by a check of SCREEN_RESULT, Stasis(screener...) followed by a check of
STASISSTATUS or SCREEN_RESULT, or a jump into the shipped [screener-outbound] context.

A trunk Dial is one whose channel is PJSIP/...@ENDPOINT, SIP/PEER/..., IAX2/PEER/..., DAHDI/... or a
variable; with --trunk, only the named endpoints (and variables, which may name anything) count. A
plain PJSIP/100 (an agent's phone) and Local/ channels (followed into their context) are not trunks.

It is a heuristic (conditional jumps are treated as "may jump, may fall through"): a clean result means
no obvious bypass, not a proof.

exit status: 0 clean, 1 unscreened route found, 2 the dialplan could not be read or has no [context]
"""


def run(args: argparse.Namespace) -> int:
    try:
        plan = read_dialplan(args.path)
    except DialplanReadError as exc:
        return fail(f"cannot read the dialplan: {exc}")
    entries = args.entry or entry_contexts(plan)
    unknown = [e for e in entries if e not in plan.contexts]
    if unknown:
        return fail(f"no context {', '.join(unknown)} in {args.path}")
    findings = find_unscreened(plan, trunks=frozenset(args.trunk or ()), entries=entries)
    for finding in findings:
        print(finding)
    files = len(plan.files)
    if findings:
        contexts = sorted({f.entry for f in findings})
        print(f"{len(findings)} unscreened route(s) to a trunk, from context(s): {', '.join(contexts)} "
              f"({files} file(s), entry contexts: {', '.join(entries)})")
        return 1
    print(f"clean: no route reaches a trunk without the screener ({files} file(s), "
          f"{len(plan.contexts)} context(s), entry contexts: {', '.join(entries) or 'none'})")
    return 0


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "lint-dialplan", help="report dialplan routes that reach a trunk without the screener (exit 1)",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", metavar="PATH", help="extensions.conf (its #include files are read too)")
    p.add_argument("--trunk", action="append", metavar="NAME",
                   help="a trunk endpoint or peer name, repeatable (default: every Dial to NAME@ENDPOINT, "
                        "PEER/NUMBER or a variable counts as a trunk)")
    p.add_argument("--entry", action="append", metavar="CONTEXT",
                   help="check from this context, repeatable (default: every context nothing else jumps to)")
    p.set_defaults(func=run)
