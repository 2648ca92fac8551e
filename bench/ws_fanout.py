"""Team room fan-out: how fast one message reaches every member's socket.

    .venv/bin/python bench/ws_fanout.py                               # rooms of 100 and 1000
    .venv/bin/python bench/ws_fanout.py --sizes 100 --messages 50
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/ws_fanout.py

Prepares a throwaway database (a fresh SQLite file unless DATABASE_URL is given; it is
migrated, so use an empty one), one team per room size with that many members and a signed-in
session for each, then starts uvicorn (config.asgi:application) in a subprocess on a free port
with the Redis pub/sub channel layer (REDIS_URL, default redis://127.0.0.1:6379/4, flushed
first). For each room it connects every member's websocket, counts failed connects, then sends
messages one at a time through members' own sockets (rotating the sender, as a real room does
and as the per-member rate limit expects) and records, for every member, the delay from the
send to the frame's arrival. Prints p50 / p95 / p99 / max, delivered / expected, the slowest
full delivery of any message, and failed connects. Targets: 100 members p50 <= 15 ms and
p99 <= 60 ms; 1000 members all delivered within 150 ms with 0 failed connects.

Clients and server share this machine's CPUs, so the figures include the clients' own work
of decoding every frame.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGETS = {100: {"p50": 15.0, "p99": 60.0}, 1000: {"all_within": 150.0}}


def _raise_open_files(wanted: int = 65536) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(wanted, hard) if hard != resource.RLIM_INFINITY else wanted
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Data ---------------------------------------------------------------------------------


def prepare(sizes: list[int]) -> dict[int, tuple[int, list[str]]]:
    """Migrate, then make one team per size; returns size -> (team id, session keys)."""
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from marketplace.models import Area, Membership, Organisation, Role, User
    from volunteers.models import SocialWorker, TeamMember
    from volunteers.services import team_create

    call_command("migrate", verbosity=0)
    district = Area.objects.create(name="瑶海区", code="340102", level="district", kind="district")
    street = Area.objects.create(
        name="明光路街道", code="340102001", level="street", kind="subdistrict", parent=district
    )
    station = Organisation.objects.create(
        name="明光路街道社工站", kind=Organisation.Kind.SOCIAL_WORK_STATION, area=street
    )
    backend = "django.contrib.auth.backends.ModelBackend"
    rooms: dict[int, tuple[int, list[str]]] = {}
    for size in sizes:
        leader_user = User.objects.create_user(username=f"leader{size}")
        Membership.objects.create(user=leader_user, role=Role.SOCIAL_WORKER, organisation=station)
        leader = SocialWorker.objects.create(
            user=leader_user, real_name=f"带队社工{size}", organisation=station
        )
        team = team_create(by=leader_user, name=f"{size}人团队", leader=leader)
        users = User.objects.bulk_create(
            [
                User(username=f"m{size}-{i}", display_name=f"成员{i}", password="!")  # noqa: S106 - unusable
                for i in range(size - 1)
            ]
        )
        # Members are put in directly: registering a thousand real-name volunteers through
        # the registration service is not what this measures.
        TeamMember.objects.bulk_create(
            [TeamMember(team=team, user=u, role=TeamMember.Role.VOLUNTEER) for u in users]
        )
        keys = []
        for user in [leader_user, *users]:
            session = SessionStore()
            session[SESSION_KEY] = str(user.pk)
            session[BACKEND_SESSION_KEY] = backend
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            session.create()
            keys.append(session.session_key)
        rooms[size] = (team.pk, keys)
    return rooms


# --- Clients ------------------------------------------------------------------------------


class Client(asyncio.Protocol):
    """A minimal websocket client: the handshake, then frames parsed by hand and stamped
    the moment their bytes arrive. A full client library spends more time per frame than
    the server does, and with a thousand clients in one process that time would be
    counted as delivery delay."""

    def __init__(self, index: int):
        self.index = index
        self.arrivals: dict[int, float] = {}
        self.transport = None
        self.buffer = b""
        self.upgraded = asyncio.get_running_loop().create_future()
        self.open = False

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        now = time.perf_counter()
        self.buffer += data
        if not self.open:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            self.open = head.startswith(b"HTTP/1.1 101")
            self.buffer = rest
            if not self.upgraded.done():
                self.upgraded.set_result(self.open)
            if not self.open:
                return
        buf = self.buffer
        while len(buf) >= 2:
            length, offset = buf[1] & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    break
                length, offset = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                if len(buf) < 10:
                    break
                length, offset = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < offset + length:
                break
            opcode, payload = buf[0] & 0x0F, buf[offset : offset + length]
            buf = buf[offset + length :]
            if opcode == 0x9:  # the server's keepalive ping wants a pong
                self._write(0x8A, payload)
                continue
            mark = payload.find(b'"body":"bench-')
            if mark >= 0:
                digits = payload[mark + 14 : payload.index(b'"', mark + 14)]
                self.arrivals.setdefault(int(digits), now)
        self.buffer = buf

    def connection_lost(self, exc):
        if not self.upgraded.done():
            self.upgraded.set_result(False)

    def send_text(self, text: str) -> None:
        self._write(0x81, text.encode())

    def _write(self, first: int, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            header = bytes([first, 0x80 | n])
        else:
            header = bytes([first, 0x80 | 126]) + n.to_bytes(2, "big")
        key_bytes = (mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(data, "big") ^ int.from_bytes(key_bytes, "big")).to_bytes(n, "big")
        self.transport.write(header + mask + masked)


async def connect_all(
    port: int, path: str, keys: list[str], timeout: float
) -> tuple[list[Client], int]:
    loop = asyncio.get_running_loop()
    clients = [Client(i) for i in range(len(keys))]
    gate = asyncio.Semaphore(100)
    failed = 0
    opened = []

    async def one(client: Client, key: str):
        nonlocal failed
        async with gate:
            try:
                await loop.create_connection(lambda: client, "127.0.0.1", port)
                request = (
                    f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
                    "Sec-WebSocket-Version: 13\r\n"
                    f"Origin: http://127.0.0.1:{port}\r\nCookie: sessionid={key}\r\n\r\n"
                )
                client.transport.write(request.encode())
                if await asyncio.wait_for(client.upgraded, timeout):
                    opened.append(client)
                    return
            except (OSError, TimeoutError) as exc:
                if failed < 3:
                    print(f"    connect failed: {exc!r}", flush=True)
            failed += 1

    await asyncio.gather(*(one(c, k) for c, k in zip(clients, keys, strict=True)))
    return opened, failed


async def measure(port: int, size: int, team_id: int, keys: list[str], messages: int) -> dict:
    started = time.perf_counter()
    clients, failed = await connect_all(port, f"/ws/teams/{team_id}/", keys, timeout=30)
    connect_s = time.perf_counter() - started
    await asyncio.sleep(2.5)  # connection presence frames settle
    latencies: list[float] = []
    slowest: list[float] = []
    fastest: list[float] = []
    delivered = 0
    for seq in range(messages):
        sender = clients[(seq * 7919) % len(clients)]
        sent = time.perf_counter()
        sender.send_text(json.dumps({"cmd": "message", "body": f"bench-{seq}"}))
        deadline = sent + 5
        while time.perf_counter() < deadline:
            if all(seq in c.arrivals for c in clients):
                break
            await asyncio.sleep(0.001)
        got = [(c.arrivals[seq] - sent) * 1000 for c in clients if seq in c.arrivals]
        delivered += len(got)
        latencies.extend(got)
        slowest.append(max(got) if got else float("inf"))
        fastest.append(min(got) if got else float("inf"))
        await asyncio.sleep(0.05)
    for c in clients:
        c.transport.close()
    latencies.sort()

    def pct(p):
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(round(p / 100 * (len(latencies) - 1))))]

    return {
        "size": size,
        "connected": len(clients),
        "failed": failed,
        "connect_s": connect_s,
        "messages": messages,
        "delivered": delivered,
        "expected": messages * size,
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "max": latencies[-1] if latencies else float("nan"),
        "mean": statistics.fmean(latencies) if latencies else float("nan"),
        "slowest_full_median": statistics.median(slowest),
        "first_median": statistics.median(fastest),
        "within_150": sum(1 for s in slowest if s <= 150) / len(slowest),
    }


def report(r: dict) -> None:
    print(
        f"room of {r['size']:>4}: connected {r['connected']}/{r['size']} "
        f"(failed connects {r['failed']}) in {r['connect_s']:.1f} s"
    )
    print(
        f"  latency ms  p50 {r['p50']:.1f}  p95 {r['p95']:.1f}  p99 {r['p99']:.1f}  "
        f"max {r['max']:.1f}  mean {r['mean']:.1f}"
    )
    print(
        f"  delivered {r['delivered']}/{r['expected']}; first member reached: median "
        f"{r['first_median']:.1f} ms, last member reached: median "
        f"{r['slowest_full_median']:.1f} ms; messages fully delivered within 150 ms: "
        f"{r['within_150'] * 100:.0f}%"
    )
    target = TARGETS.get(r["size"])
    if target and "p50" in target:
        ok = r["p50"] <= target["p50"] and r["p99"] <= target["p99"] and r["failed"] == 0
        print(
            f"  target p50 <= {target['p50']:.0f} ms, p99 <= {target['p99']:.0f} ms: "
            f"{'met' if ok else 'NOT met'}"
        )
    elif target:
        ok = (
            r["max"] <= target["all_within"]
            and r["failed"] == 0
            and (r["delivered"] == r["expected"])
        )
        print(
            f"  target all delivered within {target['all_within']:.0f} ms, 0 failed "
            f"connects: {'met' if ok else 'NOT met'}"
        )


def _run(coro):
    """The clients' loop: uvloop when installed, as the server uses, so that the figures
    measure the server rather than the clients' own event loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=60,
        help="CONN_MAX_AGE of the server process (0 opens a database connection per command)",
    )
    parser.add_argument("--ws", default="websockets-sansio", help="uvicorn's websocket protocol")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()

    limit = _raise_open_files()
    tmp = tempfile.mkdtemp(prefix="ws-fanout-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/4")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    print(
        f"database {os.environ['DATABASE_URL']}; redis {os.environ['REDIS_URL']}; "
        f"open files limit {limit}"
    )
    t0 = time.perf_counter()
    rooms = prepare(args.sizes)
    print(f"prepared {len(rooms)} rooms in {time.perf_counter() - t0:.1f} s", flush=True)

    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--ws",
            "websockets",
            "--no-access-log",
            "--workers",
            str(args.workers),
        ],
        cwd=ROOT,
        env={**os.environ, "CONN_MAX_AGE": str(args.conn_max_age)},
    )
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit("uvicorn did not start")
        for size in args.sizes:
            team_id, keys = rooms[size]
            report(_run(measure(port, size, team_id, keys, args.messages)))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
