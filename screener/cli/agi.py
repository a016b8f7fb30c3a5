"""`screener agi`: a process AGI that Asterisk starts per call (stdin/stdout), for PBXs without `screener serve`.

Same scripts, same variables as FastAGI:

  AGI(/opt/screener/bin/screener,--config=/etc/screener/screener.toml,agi,screen,NUMBER[,CAMPAIGN])
      sets SCREEN_REASONS, SCREEN_NUMBER, SCREEN_CALLERID, SCREEN_CALLERID_NAME, SCREEN_CAMPAIGN,
      SCREEN_CALL_ID and last SCREEN_RESULT (ALLOW/BLOCK). No CAMPAIGN: the channel's SCREENER_CAMPAIGN.
  AGI(/opt/screener/bin/screener,--config=/etc/screener/screener.toml,agi,disclose,NUMBER,CAMPAIGN,CALL_ID)
      in the Dial U() gosub on the callee's channel: plays the disclosure, listens for the opt-out key,
      sets DISCLOSE_RESULT (DONE/OPTOUT/HANGUP/FAILED) and GOSUB_RESULT=ABORT unless DONE.
  AGI(/opt/screener/bin/screener,--config=...,agi,end,CALL_ID,CAMPAIGN[,NUMBER,ANSWERED,RESULT,HANDED_OVER,
      DIALSTATUS,ANSWEREDTIME_MS,NOW])
      in the h extension: the call ended (it no longer counts among its campaign's calls in progress) and,
      when the callee answered, how (the abandoned-call accounting; see the shipped h extension).

Each call starts a Python process, loads the config and connects to Redis (tens of milliseconds): fine for
a small PBX; use `screener serve` (FastAGI) for call rates above a few per second.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import time
from typing import Any

from screener.agi.classic import ProcessChannel
from screener.agi.disclose import run_disclose
from screener.agi.end import run_end
from screener.agi.errors import AgiError
from screener.agi.options import ScriptOptions
from screener.agi.screen import run_screen
from screener.cli.call_options import add_call_options
from screener.cli.common import config_path, fail, redis_url, spool_for
from screener.config.errors import ConfigError
from screener.config.watch import ConfigHolder
from screener.embedded_redis import EmbeddedRedisError
from screener.service.screening import Screener
from screener.sounds import Sounds

log = logging.getLogger("screener.agi.process")


async def run(args: argparse.Namespace) -> int:
    arrived = time.monotonic()
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="screener agi %(levelname)s %(name)s: %(message)s")
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="\n")
    stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n", write_through=True)
    # pyst2 reads the header first, so a config error still leaves Asterisk a well-behaved AGI: we
    # just set nothing, and the dialplan blocks (SCREEN_RESULT / DISCLOSE_RESULT not set).
    channel = ProcessChannel(stdin, stdout, tuple(args.script_args))
    try:
        holder = ConfigHolder(config_path(args))
        url = redis_url(args, holder.current)
    except ConfigError as exc:
        return fail(f"config: {exc}")
    except (EmbeddedRedisError, OSError) as exc:
        return fail(f"cannot start the private redis-server: {exc}")
    options = ScriptOptions(
        decision_timeout_s=args.decision_timeout, opt_out_wait_ms=args.opt_out_wait_ms, source="agi",
    )
    screener = await Screener.create(holder, url, sounds=Sounds(args.prompt_prefix),
                                     spool=spool_for(holder.current, "agi"))
    try:
        if args.script == "screen":
            await run_screen(channel, screener, options)
        elif args.script == "end":
            await run_end(channel, screener, options)
        else:
            await run_disclose(channel, screener, options, arrived=arrived)
    except AgiError as exc:
        log.warning("AGI session ended: %s: %s", type(exc).__name__, exc)
        return 1
    finally:
        await screener.aclose()
    return 0


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "agi", help="process AGI for Asterisk (one process per call, stdin/stdout): screen, disclose or end",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("script", choices=["screen", "disclose", "end"], help="which script to run")
    p.add_argument("script_args", nargs="*", metavar="ARG",
                   help="screen: NUMBER [CAMPAIGN]; disclose: NUMBER CAMPAIGN CALL_ID; end: see above")
    add_call_options(p)
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=run)
