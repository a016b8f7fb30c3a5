"""DNC storage benchmark: the screener's importer and layout vs. ``redis-cli --pipe`` into plain SADD sets.

    .venv/bin/python bench/dnc_bench.py [--numbers 10000000] [--area-codes N] [--lookups 20000]

Generates numbers at the US registry's density (258.5 M numbers over ~330 area codes: ~783,000 per area code,
drawn without repetition from the 8,000,000 valid numbers NXX 200-999 of each area code), writes them as an
FTC full-list flat file (one sorted 10-digit number per line), then, each on a private redis-server:

1. imports the file with ``screener.service.dnc.import_file`` (the ``screener dnc import`` code path):
   numbers/s for the whole import (reading and parsing the file included), INFO used_memory before/after;
   lookup latency p50/p99 of single lookups from redis-py asyncio: the plain commands (SISMEMBER tag, TYPE,
   then GETBIT/SISMEMBER: 2 round trips) and the decision's Lua 2-key check (1 round trip), next to PING;
2. loads the same numbers with ``redis-cli --pipe`` as SADD into one plain set per area code (protocol file
   prepared beforehand, not timed): its load rate and bytes per number;

and extrapolates both to 258.5 M numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis.asyncio as aioredis

from screener.embedded_redis import EmbeddedRedis
from screener.service.dnc import Format, ImportOptions, import_file
from screener.store import dnc, keys

US_REGISTRY = 258_500_000
US_AREA_CODES = 330
PER_AREA_CODE = US_REGISTRY // US_AREA_CODES
AREA_CODES = (201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219, 224, 225,
              228, 229, 231, 234, 239, 240, 248, 251, 252, 253, 254, 256, 260, 262, 267, 269, 270, 276, 281)


def generate(path: Path, numbers: int, area_codes: int, seed: int) -> list[int]:
    """Write the FTC flat file; return the numbers (10-digit ints)."""
    rng = random.Random(seed)
    per = numbers // area_codes
    out: list[int] = []
    with open(path, "w") as f:
        for i, ac in enumerate(AREA_CODES[:area_codes]):
            k = per if i < area_codes - 1 else numbers - per * (area_codes - 1)
            chosen = sorted(rng.sample(range(2_000_000, 10_000_000), k))
            base = ac * 10_000_000
            f.write("\n".join(str(base + s) for s in chosen))
            f.write("\n")
            out.extend(base + s for s in chosen)
    return out


def resp(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def write_protocol(path: Path, nums: list[int]) -> None:
    """SADD dnc:<area code> <number>... in commands of 1,000 members."""
    with open(path, "wb") as f:
        for start in range(0, len(nums), 1000):
            part = nums[start:start + 1000]
            groups: dict[int, list[bytes]] = {}
            for n in part:
                groups.setdefault(n // 10_000_000, []).append(b"%d" % n)
            for ac, members in groups.items():
                f.write(resp(b"SADD", b"dnc:%d" % ac, *members))


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


async def used_memory(r: aioredis.Redis) -> int:
    return int((await r.info("memory"))["used_memory"])


async def latencies(r: aioredis.Redis, version: str, sample: list[str]) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    ping: list[float] = []
    cmds: list[float] = []
    lua: list[float] = []
    for e164 in sample:
        t0 = time.perf_counter()
        await r.ping()
        t1 = time.perf_counter()
        tag_key, block_key, tag_sfx, block_sfx = dnc.lookup_keys("us-national", version, e164)
        pipe = r.pipeline(transaction=False)
        pipe.sismember(tag_key, str(tag_sfx))
        pipe.type(block_key)
        hit, kind = await pipe.execute()
        if not hit:
            if kind == b"string":
                hit = await r.getbit(block_key, block_sfx)
            elif kind == b"set":
                hit = await r.sismember(block_key, str(block_sfx))
        t2 = time.perf_counter()
        lua_hit = await dnc.contains_in(r, "us-national", version, e164)
        t3 = time.perf_counter()
        assert bool(hit) == lua_hit
        ping.append(t1 - t0)
        cmds.append(t2 - t1)
        lua.append(t3 - t2)
    for name, vals in (("PING (bare round trip)", ping), ("commands (2 round trips)", cmds),
                       ("Lua 2-key check (1 round trip)", lua)):
        out[name] = (pct(vals, 50) * 1e6, pct(vals, 99) * 1e6)
    return out


async def bench_screener(work: Path, ftc: Path, nums: list[int], lookups: int, seed: int) -> dict[str, object]:
    with EmbeddedRedis(work / "redis-screener", persist=False) as server:
        r = aioredis.Redis.from_url(server.url)
        before = await used_memory(r)
        t0 = time.perf_counter()
        result = await import_file(r, "us-national", ftc, ImportOptions(fmt=Format.FTC, source="bench", grace_s=0))
        seconds = time.perf_counter() - t0
        after = await used_memory(r)
        keys = await r.dbsize()
        rng = random.Random(seed + 1)
        listed = rng.sample(nums, lookups // 2)
        unlisted = [n + 1 for n in rng.sample(nums, lookups)]
        present = set(nums)
        sample = [f"+1{n}" for n in listed] + [f"+1{n}" for n in unlisted if n not in present][: lookups // 2]
        rng.shuffle(sample)
        lat = await latencies(r, result.version, sample)
        await r.aclose()
    assert result.count == len(nums), (result.count, len(nums))
    return {"seconds": seconds, "rate": len(nums) / seconds, "bytes": after - before, "keys": keys, "lat": lat,
            "bad": result.bad_count}


def bench_pipe(work: Path, nums: list[int]) -> dict[str, float]:
    proto = work / "sadd.resp"
    write_protocol(proto, nums)
    cli = shutil.which("redis-cli")
    if cli is None:
        raise SystemExit("redis-cli is not installed")
    with EmbeddedRedis(work / "redis-pipe", persist=False) as server:
        info = subprocess.run([cli, "-p", str(server.port), "info", "memory"], capture_output=True, text=True,
                              check=True).stdout
        before = _used(info)
        t0 = time.perf_counter()
        with open(proto, "rb") as f:
            subprocess.run([cli, "-p", str(server.port), "--pipe"], stdin=f, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - t0
        info = subprocess.run([cli, "-p", str(server.port), "info", "memory"], capture_output=True, text=True,
                              check=True).stdout
        after = _used(info)
    return {"seconds": seconds, "rate": len(nums) / seconds, "bytes": after - before}


def _used(info: str) -> int:
    for line in info.splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    raise ValueError("no used_memory in INFO")


def table(n: int, area_codes: int, mine: dict[str, object], pipe: dict[str, float], gen_s: float) -> str:
    m_bpn = float(mine["bytes"]) / n  # type: ignore[arg-type]
    p_bpn = pipe["bytes"] / n
    m_rate = float(mine["rate"])  # type: ignore[arg-type]
    rows = [
        ("", "screener import (bitmap/intset)", "redis-cli --pipe, SADD sets", "ratio"),
        ("numbers loaded", f"{n:,}", f"{n:,}", ""),
        ("load time (s)", f"{float(mine['seconds']):.2f}", f"{pipe['seconds']:.2f}", ""),  # type: ignore[arg-type]
        ("numbers per second", f"{m_rate:,.0f}", f"{pipe['rate']:,.0f}", f"{m_rate / pipe['rate']:.2f}x"),
        ("Redis memory (INFO used_memory delta)", f"{int(mine['bytes']):,} B",  # type: ignore[call-overload]
         f"{int(pipe['bytes']):,} B", ""),
        ("bytes per number", f"{m_bpn:.3f}", f"{p_bpn:.2f}", f"1/{p_bpn / m_bpn:.1f}"),
        ("extrapolated to 258.5 M: memory", f"{m_bpn * US_REGISTRY / 2**30:.2f} GiB",
         f"{p_bpn * US_REGISTRY / 2**30:.2f} GiB", ""),
        ("extrapolated to 258.5 M: load time", f"{US_REGISTRY / m_rate / 60:.1f} min",
         f"{US_REGISTRY / pipe['rate'] / 60:.1f} min", ""),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [" | ".join(c.ljust(widths[i]) for i, c in enumerate(r)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    lat = mine["lat"]
    lat_lines = ["", "lookup latency from redis-py asyncio (single lookups, one at a time), microseconds:",
                 f"{'':32} {'p50':>8} {'p99':>8}"]
    for name, (p50, p99) in lat.items():  # type: ignore[attr-defined]
        lat_lines.append(f"{name:32} {p50:8.0f} {p99:8.0f}")
    head = (f"{n:,} numbers over {area_codes} area codes ({n / area_codes:,.0f} per area code, "
            f"{n / area_codes / 1e5:.1f} % of its 10 M numbers); screener keys: {mine['keys']:,}; "
            f"file generated in {gen_s:.1f} s (not timed)")
    return "\n".join([head, "", *lines, *lat_lines])


SWEEP = (("10k list over 330 area codes", 10_000, 330), ("0.01 % of one area code", 1_000, 1),
         ("0.1 %", 10_000, 1), ("0.5 %", 50_000, 1), ("2 %", 200_000, 1), ("5 %", 500_000, 1),
         ("7.8 % (registry)", 783_000, 1))


async def _key_bytes(r: aioredis.Redis) -> int:
    total = 0
    async for key in r.scan_iter(count=1000):
        total += int(await r.memory_usage(key, samples=0) or 0)
    return total


async def _write_alternative(r: aioredis.Redis, how: str, nums: list[int]) -> None:
    """The single-representation layouts the hybrid is compared with."""
    groups: dict[str, list[int]] = {}
    for n in nums:
        e164 = f"+1{n}"
        if how == "tag set":
            groups.setdefault(keys.dnc_tag_key("x", "1", e164), []).append(keys.tag_suffix(e164))
        else:
            groups.setdefault(keys.dnc_block_key("x", "1", e164), []).append(keys.block_suffix(e164))
    pipe = r.pipeline(transaction=False)
    for key, members in groups.items():
        if how == "bitmap per block":
            bm = bytearray(1250)
            for s in members:
                bm[s >> 3] |= 0x80 >> (s & 7)
            pipe.set(key, bytes(bm))
        else:
            pipe.sadd(key, *members)
    await pipe.execute()


async def sweep(work: Path, seed: int) -> str:
    """Bytes per number (MEMORY USAGE of every key) of the hybrid and of single representations."""
    rng = random.Random(seed)
    hows = ("hybrid (screener)", "bitmap per block", "set per block", "tag set")
    lines = [f"{'numbers':34} " + " ".join(f"{h:>18}" for h in hows)]
    with EmbeddedRedis(work / "redis-sweep", persist=False) as server:
        r = aioredis.Redis.from_url(server.url)
        for label, count, area_codes in SWEEP:
            pool = [200 + i for i in range(800)][:area_codes]
            nums = sorted({rng.choice(pool) * 10**7 + rng.randrange(2 * 10**6, 10**7) for _ in range(count)}) \
                if area_codes > 1 else sorted(201 * 10**7 + s for s in rng.sample(range(2 * 10**6, 10**7), count))
            cells = []
            for how in hows:
                await r.flushall()
                if how.startswith("hybrid"):
                    path = work / "sweep.txt"
                    path.write_text("".join(f"{n}\n" for n in nums))
                    await import_file(r, "x", path, ImportOptions(grace_s=0))
                else:
                    await _write_alternative(r, how, nums)
                cells.append(f"{await _key_bytes(r) / len(nums):18.2f}")
            lines.append(f"{label + f' ({len(nums):,})':34} " + " ".join(cells))
        await r.aclose()
    return "\n".join(["bytes per number by layout (sum of MEMORY USAGE of every key; Redis defaults):", *lines])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--numbers", type=int, default=10_000_000)
    parser.add_argument("--area-codes", type=int, default=0,
                        help="default: numbers / 783,000 (the registry's numbers per area code), rounded up")
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--sweep", action="store_true",
                        help="instead: bytes per number of each layout at densities from a 10k list to a registry")
    args = parser.parse_args(argv)
    if args.sweep:
        with tempfile.TemporaryDirectory(prefix="dnc-sweep-") as tmp:
            print(asyncio.run(sweep(Path(tmp), args.seed)))
        return 0
    area_codes = args.area_codes or max(1, math.ceil(args.numbers / PER_AREA_CODE))
    if area_codes > len(AREA_CODES):
        parser.error(f"at most {len(AREA_CODES)} area codes")
    with tempfile.TemporaryDirectory(prefix="dnc-bench-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        ftc = work / "ftc.txt"
        nums = generate(ftc, args.numbers, area_codes, args.seed)
        gen_s = time.perf_counter() - t0
        mine = asyncio.run(bench_screener(work, ftc, nums, args.lookups, args.seed))
        pipe = bench_pipe(work, nums)
    print(table(len(nums), area_codes, mine, pipe, gen_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
