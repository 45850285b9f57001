"""The benchmark suite: every performance claim of cache_dashboard, measured side by side in one run.

Starts its own redis-server and memcached on free loopback ports (stopped by PID at the end); each
case runs in a fresh worker process (its own Django settings) and is compared with the floor (the
raw client) and with the **baseline** a user would otherwise write (``bench/baseline.py``: the
seeds' check → fetch → set class, labelled BASELINE). Cases (``bench/README.md`` has the method):

  B1  hit path, plain and namespaced, sync and async, every backend
  B2  miss path against the baseline's get + set
  B3  cold stampede: 32 callers in 4 processes, a 200 ms fetch
  B4  namespace invalidation with 1k vs 100k entries; a Redis purge of 100k entries in a 1M-key
      database with a PING loop in another process, against django-redis ``delete_pattern`` and
      ``KEYS`` + ``DEL``
  B5  shared stats: 4 processes x 25k hits counted exactly; the hit path with stats on vs off
  B6  outage: a hung server, then a killed one, 1,000 calls each
  B7  negative cache: 4 processes x 2,500 marks (the baseline loses updates); breakdown at 1M
  B8  dashboard overview and poll: 1k vs 1M keys, 1 vs 50 namespaces

    .venv/bin/python bench/run.py [--backend redis,memcached] [--only B1,B4] [--quick]

``--quick`` shrinks every size (CI runs it as a smoke test: nothing is asserted on time). Each row
says whether its goal is met; a MISSED goal is reported, not hidden. Tables are printed and
written with the machine's description to ``bench/results/<UTC time>.json`` (git-ignored).
Numbers are for comparison within one run: on a shared machine compare ratios, not microseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8")
BACKENDS = ("locmem", "redis", "django_redis", "memcached")
TITLES = {
    "B1": "hit path against the raw client (sync and async)",
    "B2": "miss path (miss + fetch + store) against the baseline's get + set",
    "B3": "cold stampede: 32 callers in 4 processes, 200 ms fetch",
    "B4": "namespace invalidation, and a Redis purge in a big database",
    "B5": "shared stats across processes; the hit path with stats on vs off",
    "B6": "outage: hung server, then killed server",
    "B7": "negative cache: concurrent marks, breakdown at size",
    "B8": "dashboard overview and poll at size",
}


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import django

    versions = {}
    for binary in ("redis-server", "memcached"):
        try:
            out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=5).stdout
            versions[binary] = out.strip().splitlines()[0] if out.strip() else "?"
        except (OSError, subprocess.SubprocessError):
            versions[binary] = "missing"
    return {"cpu": cpu, "cpus": os.cpu_count(), "python": sys.version.split()[0], "django": django.get_version(),
            "platform": platform.platform(), "load_average": os.getloadavg()[0], **versions}


def _cell(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def print_table(case: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{case}  {TITLES[case]}")
    header = ("what", "backend", "figure", "floor", "baseline", "ratio", "goal", "")
    lines = [header] + [
        (r["what"], r.get("backend") or "", f"{_cell(r.get('value'))} {r.get('unit', '')}".strip(),
         _cell(r.get("floor")), _cell(r.get("baseline")), _cell(r.get("ratio")), r.get("goal") or "",
         "" if r.get("met") is None else ("met" if r["met"] else "MISSED"))
        for r in rows
    ]
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  " + "  ".join(str(c).ljust(w) if i < 2 or i >= 6 else str(c).rjust(w)
                               for i, (c, w) in enumerate(zip(line, widths, strict=True))))
    for r in rows:
        if r.get("note"):
            print(f"    · {r['what']} ({r.get('backend') or '-'}): {r['note']}")


def run_case(case: str, ports: dict[str, int], args: argparse.Namespace) -> list[dict[str, Any]]:
    """One case in a fresh worker process; its rows (a crash becomes one row saying so)."""
    command = [sys.executable, str(Path(__file__).resolve().parent / "cases.py"), case,
               "--redis-port", str(ports["redis"]), "--memcached-port", str(ports["memcached"]),
               "--backends", ",".join(args.backends)]
    if args.quick:
        command.append("--quick")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stderr)
        return [{"case": case, "what": "the case crashed", "value": None, "met": False,
                 "note": (done.stderr.strip().splitlines() or ["no output"])[-1]}]
    rows: list[dict[str, Any]] = json.loads(lines[-1])
    for row in rows:
        row["case"] = case
        row["seconds"] = round(time.monotonic() - started, 1)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default=",".join(BACKENDS), help=f"comma-separated subset of {BACKENDS}")
    parser.add_argument("--only", default=",".join(CASES), help="comma-separated cases (B1..B8)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test, minutes not tens of them")
    parser.add_argument("--results", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()
    args.backends = [b for b in args.backend.split(",") if b]
    cases = [c.strip().upper() for c in args.only.split(",") if c.strip()]
    bad = (set(args.backends) - set(BACKENDS)) | {f"case {c}" for c in set(cases) - set(CASES)}
    if bad:
        parser.error(f"unknown: {sorted(bad)}")

    from tests.servers import start_memcached, start_redis

    redis_server, memcached = start_redis(), start_memcached()
    try:
        ports = {"redis": redis_server.port, "memcached": memcached.port}
        info = machine()
        print(f"benchmark suite{' (--quick sizes)' if args.quick else ''}: {info['cpu']}, {info['cpus']} CPUs, "
              f"Python {info['python']}, Django {info['django']}, {info['redis-server']}, {info['memcached']}; "
              f"load average {info['load_average']:.2f} at start")
        results: dict[str, Any] = {"machine": info, "quick": args.quick, "backends": args.backends, "cases": {}}
        for case in cases:
            rows = run_case(case, ports, args)
            results["cases"][case] = rows
            print_table(case, rows)
        results["load_average_end"] = os.getloadavg()[0]
        missed = [f"{r['case']} {r['what']} ({r.get('backend') or '-'})"
                  for rows in results["cases"].values() for r in rows if r.get("met") is False]
        print(f"\n{len(missed)} goal(s) missed" + (": " + "; ".join(missed) if missed else "")
              + f"; load average {results['load_average_end']:.2f} at end")
        args.results.mkdir(parents=True, exist_ok=True)
        path = args.results / (time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + ("-quick" if args.quick else "")
                               + ".json")
        path.write_text(json.dumps(results, indent=1, default=str))
        print(f"written to {path}")
        crashed = [r for rows in results["cases"].values() for r in rows if r["what"] == "the case crashed"]
        return 1 if crashed else 0
    finally:
        redis_server.stop()
        memcached.stop()


if __name__ == "__main__":
    sys.exit(main())
