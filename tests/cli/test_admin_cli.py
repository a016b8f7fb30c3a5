"""`screener admin token create|list|revoke` against a real redis-server: the token is printed once and
only its SHA-256 is stored."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import redis

from screener.embedded_redis import EmbeddedRedis
from tests.cli.lab_config import write_config

ENV = {k: v for k, v in os.environ.items() if not k.startswith("SCREENER_")}


def screener(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "screener.cli.main", "--config", str(config), "admin", "token",
                           *args], capture_output=True, text=True, timeout=60, env=ENV)


def test_token_create_list_revoke(tmp_path: Path, redis_server: EmbeddedRedis) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    config = write_config(tmp_path, redis_server.url)
    created = screener(config, "create", "wallboard", "--role", "viewer")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("scr_") and len(token) > 40
    assert "shown this once" in created.stderr and token not in created.stderr
    # only the digest is in Redis
    dump = b"".join(k + b"".join(v for kv in client.hgetall(k).items() for v in kv) for k in client.keys("*"))
    assert token.encode() not in dump and hashlib.sha256(token.encode()).hexdigest().encode() in dump

    again = screener(config, "create", "wallboard", "--role", "admin")
    assert again.returncode == 2 and "exists already" in again.stderr
    bad = screener(config, "create", "two words", "--role", "viewer")
    assert bad.returncode == 2 and "not a token name" in bad.stderr
    role = screener(config, "create", "x", "--role", "boss")
    assert role.returncode == 2 and "invalid choice" in role.stderr

    listed = screener(config, "list", "--json")
    assert listed.returncode == 0
    [entry] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert entry["name"] == "wallboard" and entry["role"] == "viewer" and entry["created"].endswith("Z")
    assert token not in listed.stdout
    assert "wallboard" in screener(config, "list").stdout

    revoked = screener(config, "revoke", "wallboard")
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert client.hlen("scr:{admin}:digests") == 0 and client.hlen("scr:{admin}:tokens") == 0
    missing = screener(config, "revoke", "wallboard")
    assert missing.returncode == 2 and "no token named 'wallboard'" in missing.stderr
