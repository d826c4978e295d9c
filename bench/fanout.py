"""WebSocket fan-out: N sockets of users who share one event, one PUT, delivery latency.

Runs in its own process (``python -m bench.fanout``, a ``FanoutSpec`` as JSON on stdin, a
``FanoutResult`` as JSON on stdout). Each round the owner changes the event's title; the
latency of a socket is the time from sending the PUT to receiving that version's
``event_updated`` message. A socket that has not received it after ``timeout`` seconds counts
as a lost message. Client-side parsing of N messages is included in the tail latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, WebSocketException

from bench.config import ROOT
from bench.plan import percentile

CONNECT_PARALLELISM = 50


@dataclass(frozen=True, slots=True)
class FanoutSpec:
    """Who connects, which event changes, how often."""

    api_url: str
    ws_url: str
    event_id: int
    owner_token: str
    tokens: list[str]
    rounds: int
    timeout: float = 15.0


@dataclass(slots=True)
class FanoutResult:
    """Delivery statistics over every round (``skipped`` says why nothing was measured)."""

    sockets: int = 0
    connected: int = 0
    expected: int = 0
    delivered: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    put_ms: list[float] = field(default_factory=list)
    connect_s: float = 0.0
    skipped: str | None = None

    @property
    def lost(self) -> int:
        """Messages that did not arrive within the timeout."""
        return self.expected - self.delivered


class Arrivals:
    """When each socket first saw each version of the event, and how many sockets have."""

    def __init__(self, sockets: int) -> None:
        self.times: list[dict[int, float]] = [{} for _ in range(sockets)]
        self.counts: Counter[int] = Counter()
        self.changed = asyncio.Event()

    def record(self, socket_index: int, version: int) -> None:
        """A message for ``version`` reached socket ``socket_index``."""
        if version not in self.times[socket_index]:
            self.times[socket_index][version] = time.perf_counter()
            self.counts[version] += 1
            self.changed.set()

    async def wait_for(self, version: int, deadline: float) -> list[float]:
        """Arrival times of ``version`` once every socket has it, or at the deadline."""
        while self.counts[version] < len(self.times):
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)
        return [t[version] for t in self.times if version in t]


async def _listen(socket: ClientConnection, index: int, event_id: int, arrivals: Arrivals) -> None:
    """Record when each version of the event was announced on this socket."""
    try:
        async for raw in socket:
            message = json.loads(raw)
            if message.get("type") == "event_updated" and message.get("event_id") == event_id:
                arrivals.record(index, int(message["version"]))
    except WebSocketException:
        return


async def _open(url: str, gate: asyncio.Semaphore) -> ClientConnection | None:
    async with gate:
        try:
            return await connect(url, open_timeout=30, ping_interval=None, max_queue=None)
        except (OSError, TimeoutError, WebSocketException):
            return None


async def _round(
    client: httpx.AsyncClient, spec: FanoutSpec, number: int, arrivals: Arrivals
) -> tuple[float, list[float]]:
    """One PUT; returns its duration and the delivery latencies that arrived in time."""
    started = time.perf_counter()
    response = await client.put(
        f"/api/events/{spec.event_id}?conflict_strategy=allow",
        json={"title": f"All hands, round {number} at {time.time():.3f}"},
    )
    put_s = time.perf_counter() - started
    response.raise_for_status()
    version = int(response.json()["version"])
    arrived = await arrivals.wait_for(version, started + spec.timeout)
    return put_s, [t - started for t in arrived]


async def measure(spec: FanoutSpec) -> FanoutResult:
    """Connect every socket, run the rounds, close everything."""
    result = FanoutResult(sockets=len(spec.tokens))
    try:
        probe = await connect(f"{spec.ws_url}?token={spec.tokens[0]}", open_timeout=10)
        await probe.close()
    except (OSError, TimeoutError, InvalidHandshake, WebSocketException) as exc:
        result.skipped = f"WebSocket endpoint unavailable: {exc}"
        return result
    gate = asyncio.Semaphore(CONNECT_PARALLELISM)
    started = time.perf_counter()
    opened = await asyncio.gather(*(_open(f"{spec.ws_url}?token={t}", gate) for t in spec.tokens))
    result.connect_s = time.perf_counter() - started
    sockets = [s for s in opened if s is not None]
    result.connected = len(sockets)
    arrivals = Arrivals(len(sockets))
    listeners = [
        asyncio.create_task(_listen(s, i, spec.event_id, arrivals)) for i, s in enumerate(sockets)
    ]
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {spec.owner_token}"}
    async with httpx.AsyncClient(base_url=spec.api_url, headers=headers, timeout=60) as client:
        for number in range(spec.rounds):
            put_s, delivered = await _round(client, spec, number, arrivals)
            result.put_ms.append(put_s * 1000)
            latencies.extend(delivered)
            await asyncio.sleep(0.5)
    await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    for task in listeners:
        task.cancel()
    latencies.sort()
    result.expected = len(sockets) * spec.rounds
    result.delivered = len(latencies)
    result.p50_ms = percentile(latencies, 0.5) * 1000
    result.p99_ms = percentile(latencies, 0.99) * 1000
    return result


def run_in_subprocess(spec: FanoutSpec) -> FanoutResult:
    """Measure in a child process (so the server's core is not shared with our sockets)."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.fanout"],
        input=json.dumps(asdict(spec)),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120 + spec.rounds * (spec.timeout + 5),
        check=True,
    )
    return FanoutResult(**json.loads(completed.stdout))


def main() -> None:
    """Entry point of the child process."""
    spec = FanoutSpec(**json.loads(sys.stdin.read()))
    print(json.dumps(asdict(asyncio.run(measure(spec)))))


if __name__ == "__main__":
    main()
