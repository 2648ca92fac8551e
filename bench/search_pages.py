"""The search page under load: `/search/?q=…` served by gunicorn over 100k documents, driven
by wrk on loopback.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sbench .venv/bin/python bench/search_pages.py
    DATABASE_URL=… .venv/bin/python bench/search_pages.py --connections 16 --seconds 30

Uses the documents of `bench/search_latency.py` (loaded into the database named by
DATABASE_URL if it does not already hold `--docs` of them; that database is migrated and its
search entries replaced), starts gunicorn (`--workers` sync workers, base settings, DEBUG
off) on `--port`, and runs wrk (Debian's `wrk`) with `--connections` connections for
`--seconds`, each request taking the next of 200 mixed Chinese queries, a quarter narrowed
by a facet (the queries of the latency bench, as a visitor may send them). Prints requests
per second and latency p50 / p95 / p99 / max as wrk measured them, and the share of non-200
answers. Target (docs/quality): p95 ≤ 100 ms for the search page.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
if "DATABASE_URL" not in os.environ:
    sys.exit("Set DATABASE_URL to a PostgreSQL database this bench may fill (see the docstring).")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from search_latency import documents, queries  # noqa: E402

from search.backends.database import DatabaseBackend  # noqa: E402
from search.models import SearchEntry  # noqa: E402

# wrk: each request takes the next path; the summary prints the percentiles wrk measured.
LUA = """
local paths = {%(paths)s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1])
end
done = function(summary, latency, requests)
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %%d %%d %%.1f %%.1f %%.1f %%.1f %%.1f %%d\\n",
    summary.requests, summary.duration, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    latency.mean / 1000, bad))
end
"""


def paths(n: int, seed: int) -> list[str]:
    """Search page URLs for the latency bench's queries, as a visitor may send them: open
    needs are for signed-in users, so a visitor's type filter names a public type instead;
    the bench's street and service type numbers are not this database's areas, so those
    filters are left out (the type filter still narrows a quarter of the queries), and so
    are second pages (a rare word has none)."""
    out = []
    for query in queries(n, seed):
        params = {"q": query.q}
        if query.types:
            params["type"] = "project" if query.types == ("need",) else query.types[0]
        out.append("/search/?" + urlencode(params))
    return out


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback only
                return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"the server did not answer at {url}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")

    call_command("migrate", verbosity=0)
    if SearchEntry.objects.count() != args.docs:
        started = time.perf_counter()
        loaded = DatabaseBackend().rebuild(documents(args.docs, args.seed))
        print(f"load: {loaded:,} documents in {time.perf_counter() - started:.1f} s")
    print(f"documents: {SearchEntry.objects.count():,}")

    base = f"http://127.0.0.1:{args.port}"
    urls = paths(200, args.seed)
    server = subprocess.Popen(  # noqa: S603 - our own gunicorn from the venv
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "config.wsgi:application",
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{args.port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base"},
    )
    try:
        wait_for(base + urls[0], 30)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA % {"paths": ", ".join(f'"{u}"' for u in urls)})
        # Warm-up: every worker has loaded jieba's dictionary and seen each query once.
        subprocess.run(  # noqa: S603
            ["wrk", "-t1", f"-c{args.connections}", "-d5s", "-s", script.name, base],  # noqa: S607
            check=True,
            capture_output=True,
        )
        run = subprocess.run(  # noqa: S603
            [  # noqa: S607
                "wrk",
                "-t2",
                f"-c{args.connections}",
                f"-d{args.seconds}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                base,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    line = next(x for x in run.stdout.splitlines() if x.startswith("RESULT"))
    requests, micros, p50, p95, p99, worst, mean, bad = line.split()[1:]
    rate = int(requests) / (int(micros) / 1e6)
    print(
        f"search page, {args.workers} gunicorn workers, {args.connections} connections, "
        f"{args.seconds} s: {int(requests):,} requests, {rate:,.0f} req/s, "
        f"{int(bad)} not 200"
    )
    print(
        f"latency ms: p50 {p50}  p95 {p95}  p99 {p99}  max {worst}  mean {mean}  "
        "(target p95 <= 100)"
    )


if __name__ == "__main__":
    main()
