"""``screener admin token create|list|revoke``: the bearer tokens of the admin HTTP API."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from screener.cli.common import UsageError, load_cli_settings, redis_url, run_guarded
from screener.service.connection import open_redis
from screener.service.tokens import Role, TokenExists, TokenNotFound, create_token, list_tokens, revoke_token

HELP = """\
Bearer tokens for the admin HTTP API (`screener serve`, section [admin]). A token is printed once, when
it is created; Redis keeps only its SHA-256, so every screener on that Redis accepts it. Roles, each
allowed what the ones before it are:

  viewer      the supervisor page, health, metrics-like JSON (masked numbers only)
  supervisor  also edit campaign limits and calling windows, add numbers to DNC lists
  compliance  also read unmasked audit entries, export the audit trail, manage consent
  admin       everything, including the whole config
"""

EXAMPLES = """\
examples:
  screener admin token create wallboard --role viewer
  screener admin token create alice --role supervisor
  screener admin token list
  screener admin token revoke wallboard
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "admin", help="admin API tokens (create, list, revoke)", description=HELP, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    admin_sub = p.add_subparsers(dest="admin_command", metavar="WHAT", required=True)
    token = admin_sub.add_parser("token", help="bearer tokens of the admin API", description=HELP, epilog=EXAMPLES,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)

    create = token_sub.add_parser("create", help="create a token and print it (once)")
    create.add_argument("name", metavar="NAME", help="who uses it (the actor in the audit trail)")
    create.add_argument("--role", required=True, choices=[r.value for r in Role], help="what it may do")
    create.set_defaults(func=run_guarded(_create))

    listing = token_sub.add_parser("list", help="names, roles and creation times (never the tokens)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=run_guarded(_list))

    revoke = token_sub.add_parser("revoke", help="revoke a token: it stops working at once")
    revoke.add_argument("name", metavar="NAME")
    revoke.set_defaults(func=run_guarded(_revoke))


async def _with_redis(args: argparse.Namespace) -> Any:
    settings = load_cli_settings(args)
    return open_redis(redis_url(args, settings))


async def _create(args: argparse.Namespace) -> int:
    redis = await _with_redis(args)
    try:
        token = await create_token(redis, args.name, Role(args.role))
    except ValueError as exc:
        if isinstance(exc, TokenExists):
            raise UsageError(f"a token named {args.name!r} exists already (revoke it first)") from None
        raise UsageError(str(exc)) from None
    finally:
        await redis.aclose()
    print(f"token {args.name!r} ({args.role}) created; it is shown this once, keep it secret:", file=sys.stderr)
    print(token)
    return 0


async def _list(args: argparse.Namespace) -> int:
    redis = await _with_redis(args)
    try:
        tokens = await list_tokens(redis)
    finally:
        await redis.aclose()
    if args.json:
        for info in tokens:
            print(json.dumps(info.to_json()))
        return 0
    if not tokens:
        print("no tokens (create one with `screener admin token create NAME --role ROLE`)")
    for info in tokens:
        data = info.to_json()
        print(f"{info.name:<24} {info.role.value:<11} created {data['created']}")
    return 0


async def _revoke(args: argparse.Namespace) -> int:
    redis = await _with_redis(args)
    try:
        await revoke_token(redis, args.name)
    except TokenNotFound:
        raise UsageError(f"no token named {args.name!r}") from None
    finally:
        await redis.aclose()
    print(f"token {args.name!r} revoked")
    return 0
