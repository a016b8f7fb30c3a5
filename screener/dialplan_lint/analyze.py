"""Which contexts reach a Dial() to a trunk without passing through the screener.

The walk starts at every entry context (a context no other context jumps to or includes; or the ones the
admin names) with "not screened", and follows priorities in order, ``include =>``, Goto/GotoIf/Gosub/
GosubIf targets, ``Local/...@ctx`` dials and Dial ``U()``/``b()``/``B()`` subroutines, carrying the state:

- "screened" once the screener ran (``AGI(agi://.../screen...)``, a process AGI ``screener,...,agi,screen``,
  or ``Stasis(screener...)``) AND a later priority checks its answer (``SCREEN_RESULT``, or for Stasis
  ``STASISSTATUS``): a screener whose verdict is never checked screens nothing;
- a ``Dial()`` whose channel is a trunk while "not screened" is a finding.

It reads priorities in order and treats every conditional jump as "may jump, may fall through": a
heuristic that catches the common leaks (a route that dials the carrier directly, a forgotten check), not a
proof. Jumps into the shipped ``[screener-outbound]`` context count as screening when that context is not
in the file set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from screener.dialplan_lint.parser import Context, Dialplan, Extension, Step, split_app, split_args

SCREENER_CONTEXT = "screener-outbound"
JUMP_APPS = {"goto", "gotoif", "gosub", "gosubif", "gotoiftime"}
CHECK_APPS = {"gotoif", "execif", "gosubif", "if", "execiftime", "gotoiftime", "while"}
TRUNK_TECHS = {"pjsip", "sip", "iax2", "dahdi", "h323", "ooh323", "motif", "unistim", "skinny"}
ALWAYS_TRUNK_TECHS = {"dahdi"}
_VAR = re.compile(r"\$\{|\$\[")


#: applications that place a call to their first argument
DIALING_APPS = ("dial", "page", "originate")


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    context: str
    extension: str
    dial: str
    #: the trunk (endpoint, peer or variable) the Dial reaches
    trunk: str
    #: the entry context the unscreened path starts from
    entry: str

    def __str__(self) -> str:
        via = "" if self.entry == self.context else f" (reached from [{self.entry}])"
        return (f"{self.file}:{self.line}: [{self.context}] exten {self.extension}: {self.dial} dials trunk "
                f"{self.trunk} without the screener{via}")


def trunk_of(dial_args: str, trunks: frozenset[str]) -> str | None:
    """The trunk one Dial() reaches, or None when every channel in it is internal (or a Local)."""
    first = split_args(dial_args)[0].strip()
    if not first:
        return None
    for channel in first.split("&"):
        channel = channel.strip()
        if _VAR.match(channel):
            return channel  # the whole dial string is a variable: assume it may be a trunk
        tech, _, resource = channel.partition("/")
        tech_l = tech.lower()
        if tech_l == "local" or tech_l not in TRUNK_TECHS:
            continue
        if tech_l in ALWAYS_TRUNK_TECHS:
            return channel
        endpoint = _endpoint(tech_l, resource)
        if endpoint is None:
            continue
        if _VAR.search(endpoint) or (not trunks and ("@" in resource or "/" in resource)) or endpoint in trunks:
            return endpoint
        if not trunks and _VAR.search(resource):
            return endpoint
    return None


def _endpoint(tech: str, resource: str) -> str | None:
    if "@" in resource:
        return resource.rsplit("@", 1)[1]
    if "/" in resource:  # SIP/peer/number, IAX2/peer/number
        return resource.split("/", 1)[0]
    return resource or None


def local_targets(dial_args: str) -> list[tuple[str, str]]:
    """(context, exten) of every ``Local/exten@context`` channel in a Dial."""
    first = split_args(dial_args)[0]
    out = []
    for channel in first.split("&"):
        tech, _, resource = channel.strip().partition("/")
        if tech.lower() == "local" and "@" in resource:
            exten, _, ctx = resource.partition("@")
            out.append((ctx.split("/")[0], exten))
    return out


def dial_subroutines(dial_args: str) -> list[tuple[str, str]]:
    """(context, exten) of the U()/b()/B() subroutines of a Dial (``U(ctx^exten^prio)`` forms)."""
    parts = split_args(dial_args)
    options = parts[2] if len(parts) > 2 else ""
    out = []
    for m in re.finditer(r"([UbB])\(([^)^]*)(?:\^([^)^]*))?", options):
        out.append((m.group(2), m.group(3) or "s"))
    return out


def is_screener(step: Step) -> str | None:
    """"agi" or "stasis" when this step runs the screener, else None."""
    app = step.app.lower()
    args = split_args(step.args)
    first = args[0].strip() if args else ""
    if app in ("agi", "eagi"):
        m = re.match(r"h?agi://[^/]+/([^?]*)", first, re.I)
        if m:
            return "agi" if m.group(1).rstrip("/").split("/")[-1] == "screen" else None
        if "screener" in first.rsplit("/", 1)[-1].lower() and "screen" in [a.strip() for a in args[1:]]:
            return "agi"
    if app == "stasis" and first.lower().startswith("screener"):
        return "stasis"
    return None


def checks_verdict(step: Step, kind: str) -> bool:
    app = step.app.lower()
    if app not in CHECK_APPS:
        return False
    return "SCREEN_RESULT" in step.args or (kind == "stasis" and "STASISSTATUS" in step.args)


def jump_targets(step: Step, context: str, exten: str) -> list[tuple[str, str, str]]:
    """(context, exten, priority-or-label) targets of a Goto/GotoIf/Gosub/GosubIf."""
    app = step.app.lower()
    if app not in JUMP_APPS:
        return []
    text = step.args
    if app in ("gotoif", "gosubif", "gotoiftime"):
        _, _, text = text.partition("?")
        branches = split_args(text, ":")
    else:
        branches = [text]
    out = []
    for branch in branches:
        branch = re.sub(r"\(.*\)\s*$", "", branch.strip())  # Gosub arguments
        parts = [p.strip() for p in split_args(branch)] if branch else []
        if len(parts) == 1:
            out.append((context, exten, parts[0]))
        elif len(parts) == 2:
            out.append((context, parts[0], parts[1]))
        elif len(parts) >= 3:
            out.append((parts[0], parts[1], parts[2]))
    return out


def pattern_matches(pattern: str, exten: str) -> bool:
    """Asterisk extension matching (X, Z, N, [..], ., !); a variable target matches every extension."""
    if _VAR.search(exten) or exten == "":
        return True
    if not pattern.startswith("_"):
        return pattern == exten
    regex = ""
    i = 1
    while i < len(pattern):
        ch = pattern[i]
        if ch in "Xx":
            regex += "[0-9]"
        elif ch in "Zz":
            regex += "[1-9]"
        elif ch in "Nn":
            regex += "[2-9]"
        elif ch == ".":
            regex += ".+"
        elif ch == "!":
            regex += ".*"
        elif ch == "[":
            end = pattern.find("]", i)
            if end < 0:
                return False
            regex += "[" + re.escape(pattern[i + 1:end]).replace("\\-", "-") + "]"
            i = end
        else:
            regex += re.escape(ch)
        i += 1
    return re.fullmatch(regex, exten) is not None


def start_index(ext: Extension, target: str) -> int:
    if target.isdigit():
        for i, step in enumerate(ext.steps):
            if step.priority >= int(target):
                return i
        return len(ext.steps)
    for i, step in enumerate(ext.steps):
        if step.label == target:
            return i
    return 0


@dataclass(frozen=True)
class _State:
    context: str
    ext_index: int
    start: int
    screened: bool
    entry: str


class Walker:
    def __init__(self, plan: Dialplan, trunks: frozenset[str]) -> None:
        self.plan = plan
        self.trunks = trunks
        self.findings: dict[tuple[str, int, str], Finding] = {}
        self._seen: set[_State] = set()
        self._queue: list[_State] = []

    def run(self, entries: list[str]) -> list[Finding]:
        for entry in entries:
            self._enter(entry, "", "", screened=False, entry=entry)
        while self._queue:
            self._walk(self._queue.pop())
        return sorted(self.findings.values(), key=lambda f: (f.file, f.line, f.entry))

    def _enter(self, context: str, exten: str, target: str, *, screened: bool, entry: str) -> None:
        ctx = self.plan.contexts.get(context)
        if ctx is None:
            return  # outside the file set (or a variable): nothing to check
        for i, ext in enumerate(ctx.extensions):
            if not exten or pattern_matches(ext.pattern, exten):
                self._push(_State(context, i, start_index(ext, target) if target else 0, screened, entry))
        for included, _, _ in ctx.includes:
            self._enter(included, exten, target, screened=screened, entry=entry)

    def _push(self, state: _State) -> None:
        if state not in self._seen:
            self._seen.add(state)
            self._queue.append(state)

    def _walk(self, state: _State) -> None:
        ctx = self.plan.contexts[state.context]
        ext = ctx.extensions[state.ext_index]
        screened, ran = state.screened, None
        for step in ext.steps[state.start:]:
            screened, ran = self._step(ctx, ext, step, state, screened, ran)

    def _step(self, ctx: Context, ext: Extension, step: Step, state: _State, screened: bool,
              ran: str | None) -> tuple[bool, str | None]:
        kind = is_screener(step)
        if kind is not None:
            return screened, kind
        if ran is not None and checks_verdict(step, ran):
            screened = True
        for target_ctx, exten, prio in jump_targets(step, ctx.name, ext.pattern):
            if target_ctx == ctx.name and exten == ext.pattern:  # a label or priority of this extension
                self._push(_State(ctx.name, state.ext_index, start_index(ext, prio), screened, state.entry))
                continue
            into_screener = target_ctx == SCREENER_CONTEXT and SCREENER_CONTEXT not in self.plan.contexts
            self._enter(target_ctx, exten, prio, screened=screened or into_screener, entry=state.entry)
        dialing = self._dial_args(step)
        if dialing is not None:
            self._dial(ctx, ext, step, dialing, state, screened)
        return screened, ran

    @staticmethod
    def _dial_args(step: Step) -> tuple[str, str] | None:
        """(application, arguments) of a step that places a call: Dial, Page, Originate, also run through
        Exec/TryExec or a branch of ExecIf."""
        app = step.app.lower()
        if app in DIALING_APPS:
            return step.app, step.args
        if app in ("exec", "tryexec"):
            name, args = split_app(step.args)
            if name.lower() in DIALING_APPS:
                return name, args
        if app in ("execif", "execiftime"):
            _, _, apps = step.args.partition("?")
            for branch in split_args(apps, ":"):
                name, args = split_app(branch)
                if name.lower() in DIALING_APPS:
                    return name, args
        return None

    def _dial(self, ctx: Context, ext: Extension, step: Step, dialing: tuple[str, str], state: _State,
              screened: bool) -> None:
        app, args = dialing
        for target_ctx, exten in local_targets(args):
            self._enter(target_ctx, exten, "", screened=screened, entry=state.entry)
        for target_ctx, exten in dial_subroutines(args):
            self._enter(target_ctx, exten, "", screened=True, entry=state.entry)
        trunk = trunk_of(args, self.trunks)
        if trunk is not None and not screened:
            key = (step.file, step.line, state.entry)
            self.findings[key] = Finding(step.file, step.line, ctx.name, ext.pattern, f"{app}({args})", trunk,
                                         state.entry)


def entry_contexts(plan: Dialplan) -> list[str]:
    """Contexts that nothing in the file set jumps to, includes or dials into (endpoints' contexts)."""
    referenced: set[str] = set()
    for ctx in plan.contexts.values():
        referenced.update(name for name, _, _ in ctx.includes)
        for ext in ctx.extensions:
            for step in ext.steps:
                referenced.update(t[0] for t in jump_targets(step, ctx.name, ext.pattern) if t[0] != ctx.name)
                dialing = Walker._dial_args(step)
                if dialing is not None:
                    referenced.update(c for c, _ in local_targets(dialing[1]))
                    referenced.update(c for c, _ in dial_subroutines(dialing[1]))
    return [name for name in plan.contexts if name.lower() not in ("general", "globals") and name not in referenced]


def find_unscreened(plan: Dialplan, *, trunks: frozenset[str] = frozenset(),
                    entries: list[str] | None = None) -> list[Finding]:
    walker = Walker(plan, trunks)
    return walker.run(entries if entries is not None else entry_contexts(plan))
