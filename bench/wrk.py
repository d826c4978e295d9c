"""The ``wrk`` backend: the same ``LoadSpec`` rendered as a Lua script, one wrk thread.

wrk (C, epoll) costs a fraction of a core even at the bare app's rate, so the ceiling is
measured without the client in the way. The Lua script reproduces ``bench.plan.render``:
the request counter, ``{n}`` substitution and evening slots for creates and batches.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.config import FREE_SLOT_HOUR, FREE_SLOT_MINUTES, FREE_SLOTS_PER_DAY
from bench.plan import LoadResult, LoadSpec, RequestTemplate

MARKER = "BENCH_JSON "
TIMEOUT_SECONDS = 60

_LUA_RUNTIME = """
local counter = 0
local plain_headers = {}
local body_headers = {["Content-Type"] = "application/json"}
for name, value in pairs(base_headers) do
  plain_headers[name] = value
  body_headers[name] = value
end

local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", t) end

local function slot_event(s, n, k)
  local index = n * s.count + k
  local day = math.floor(index / SLOTS_PER_DAY)
  local start = s.epoch + day * 86400 + SLOT_HOUR * 3600 + (index % SLOTS_PER_DAY) * 1800
  return string.format(
    '{"title": "%s %d.%d", "start_time": "%s", "end_time": "%s", "location": "Bench room"}',
    s.title, n, k, iso(start), iso(start + SLOT_MINUTES * 60))
end

local function body_of(t, n)
  if t.slots then
    local items = {}
    for k = 0, t.slots.count - 1 do items[#items + 1] = slot_event(t.slots, n, k) end
    if t.slots.batch then return '{"events": [' .. table.concat(items, ", ") .. ']}' end
    return items[1]
  end
  if t.body then return (string.gsub(t.body, "{n}", tostring(n))) end
  return nil
end

request = function()
  local n = counter
  counter = counter + 1
  local t = templates[(n % #templates) + 1]
  local body = body_of(t, n)
  local headers = plain_headers
  if body then headers = body_headers end
  return wrk.format(t.method, t.path, headers, body)
end

statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

local threads = {}
setup = function(thread) table.insert(threads, thread) end

done = function(summary, latency, requests)
  local parts = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      parts[#parts + 1] = string.format('"%d": %d', status, count)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "transport_errors": %d, "status_errors": %d, '
    .. '"p50_us": %.1f, "p99_us": %.1f, "statuses": {%s}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), table.concat(parts, ", ")))
end
"""


def available() -> bool:
    """Whether ``wrk`` is on PATH."""
    return shutil.which("wrk") is not None


def _lua_string(value: str) -> str:
    if not value.isascii():
        raise ValueError("wrk scripts carry ASCII text only")
    return json.dumps(value)  # JSON string escapes are valid Lua escapes for ASCII text


def _lua_template(template: RequestTemplate) -> str:
    fields = [f"method = {_lua_string(template.method)}", f"path = {_lua_string(template.path)}"]
    if template.body is not None:
        fields.append(f"body = {_lua_string(template.body)}")
    if template.slots is not None:
        s = template.slots
        batch = "true" if s.batch else "false"
        fields.append(
            f"slots = {{epoch = {s.first_epoch()}, count = {s.count}, batch = {batch}, "
            f"title = {_lua_string(s.title)}}}"
        )
    return "  {" + ", ".join(fields) + "},"


def script(spec: LoadSpec) -> str:
    """The Lua script for a spec."""
    headers = "\n".join(
        f"  [{_lua_string(k)}] = {_lua_string(v)}," for k, v in spec.headers.items()
    )
    templates = "\n".join(_lua_template(t) for t in spec.templates)
    return (
        f"SLOTS_PER_DAY = {FREE_SLOTS_PER_DAY}\nSLOT_HOUR = {FREE_SLOT_HOUR}\n"
        f"SLOT_MINUTES = {FREE_SLOT_MINUTES}\n"
        f"base_headers = {{\n{headers}\n}}\ntemplates = {{\n{templates}\n}}\n{_LUA_RUNTIME}"
    )


def run(spec: LoadSpec) -> LoadResult:
    """Run wrk for ``spec.duration`` s: one thread, ``spec.concurrency`` connections."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script(spec))
        path = Path(handle.name)
    try:
        argv = [
            "wrk",
            "-t1",
            f"-c{spec.concurrency}",
            f"-d{max(1, round(spec.duration))}s",
            f"--timeout={TIMEOUT_SECONDS}s",
            "-s",
            str(path),
            spec.base_url,
        ]
        timeout = spec.duration + TIMEOUT_SECONDS + 30
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=True)
    finally:
        path.unlink(missing_ok=True)
    return _parse(out.stdout)


def _parse(stdout: str) -> LoadResult:
    line = next((ln for ln in stdout.splitlines() if ln.startswith(MARKER)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{stdout[-2000:]}")
    raw = json.loads(line[len(MARKER) :])
    return LoadResult(
        requests=raw["requests"],
        errors=raw["transport_errors"] + raw["status_errors"],
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        generator="wrk",
        statuses={str(k): int(v) for k, v in raw["statuses"].items()},
    )
