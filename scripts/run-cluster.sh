#!/usr/bin/env bash
# Two Calendo processes on one PostgreSQL database and one Redis, as behind a load balancer:
# a notification caused through either process reaches WebSockets held by both.
#
#   make run-cluster                       # http://127.0.0.1:8001 and http://127.0.0.1:8002
#   CALENDO_DATABASE_URL=postgresql+asyncpg://user@db/calendo CALENDO_REDIS_URL=redis://cache/0 \
#   CALENDO_CLUSTER_PORTS="9001 9002" make run-cluster
#
# Creates the database when it is missing, migrates once, then starts one server per port
# (each with CALENDO_WORKERS workers, 1 by default). Ctrl-C stops them all; so does the exit
# of any one of them.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-.venv/bin/python}"
export CALENDO_DATABASE_URL="${CALENDO_DATABASE_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/calendo}"
export CALENDO_REDIS_URL="${CALENDO_REDIS_URL:-redis://127.0.0.1:6379/0}"
read -r -a PORTS <<< "${CALENDO_CLUSTER_PORTS:-8001 8002}"

case "$CALENDO_DATABASE_URL" in
    postgresql*) ;;
    *) echo "run-cluster needs PostgreSQL: SQLite cannot be shared by several hosts" >&2; exit 2 ;;
esac

# Fail early, and clearly, when PostgreSQL or Redis is unreachable; create the database if needed.
"$PYTHON" - <<'PY'
import asyncio
import os
import sys

import asyncpg
import redis

url = os.environ["CALENDO_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://", 1)
url, _, query = url.partition("?")
server, _, name = url.rpartition("/")
suffix = "?" + query if query else ""


async def ensure_database() -> None:
    conn = await asyncpg.connect(f"{server}/postgres{suffix}")
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
            print(f"run-cluster: created database {name}")
    finally:
        await conn.close()


try:
    asyncio.run(ensure_database())
except (OSError, asyncpg.PostgresError) as exc:
    sys.exit(f"run-cluster: PostgreSQL at {server} is not usable: {exc}")
try:
    redis.Redis.from_url(os.environ["CALENDO_REDIS_URL"]).ping()
except redis.RedisError as exc:
    sys.exit(f"run-cluster: Redis at {os.environ['CALENDO_REDIS_URL']} is not usable: {exc}")
PY

# Every process must sign and verify tokens with the same key. Without CALENDO_SECRET_KEY
# (development only), create the local key file now, before the servers race to create it.
"$PYTHON" -c 'from calendo.core.config import Settings; Settings().signing_key'

"$PYTHON" -m calendo migrate

pids=()
stop() {
    trap - EXIT INT TERM
    if ((${#pids[@]})); then
        kill -TERM "${pids[@]}" 2>/dev/null || true
        wait "${pids[@]}" 2>/dev/null || true
    fi
}
trap stop EXIT
trap 'exit 130' INT TERM

for port in "${PORTS[@]}"; do
    CALENDO_PORT="$port" "$PYTHON" -m calendo serve --no-migrate &
    pids+=("$!")
    echo "run-cluster: server on http://${CALENDO_HOST:-127.0.0.1}:$port (pid $!)"
done

status=0
wait -n "${pids[@]}" || status=$?
echo "run-cluster: a server exited (status $status); stopping the others" >&2
exit "$status"
