"""Method "minimal client": only the protocol's requests, one kept-alive connection per remote, all
remotes at once: take the lock, create the three objects, apply, and poll the reload task once it
should have ended. No preflight, no reads, no lock check, no journal, no node check: what any client
of this protocol has to spend. Its controller CPU per remote is the yardstick the fleet task's is
measured against (bench/README.md).

    python bench/minimal_client.py INVENTORY --task-seconds 2

Prints one JSON object: wall time, its own CPU time over the transaction (imports left out), counts.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleet_change import OBJECTS, connection_params, remotes_of  # noqa: E402

from ansible_collections.pvefleet.sdn.plugins.module_utils._client import PveClient  # noqa: E402
from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings  # noqa: E402
from ansible_collections.pvefleet.sdn.plugins.module_utils._resource import KINDS  # noqa: E402

BODIES = [(KINDS[kind].collection_path(), KINDS[kind].parse(options).to_wire()) for kind, options in OBJECTS]
POLL_SECONDS = 0.05


async def one(client: PveClient, task_seconds: float) -> str:
    token = await client.post("/cluster/sdn/lock", data={"allow-pending": False})
    for path, body in BODIES:
        await client.post(path, data={**body, "lock-token": token})
    upid = await client.put("/cluster/sdn", data={"lock-token": token, "release-lock": True})
    path = f"/nodes/{upid.split(':')[1]}/tasks/{urllib.parse.quote(upid, safe='')}/status"
    await asyncio.sleep(task_seconds)
    while True:
        status = await client.get(path)
        if status.get("status") == "stopped":
            return str(status.get("exitstatus"))
        await asyncio.sleep(POLL_SECONDS)


async def main(inventory: Path, task_seconds: float) -> dict:
    hosts = remotes_of(inventory.read_text())
    settings = [ConnectionSettings.from_params(connection_params(variables), remote=name)
                for name, variables in sorted(hosts.items())]
    started, cpu = time.monotonic(), time.process_time()
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(PveClient(s, max_connections=1)) for s in settings]
        statuses = await asyncio.gather(*(one(client, task_seconds) for client in clients))
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return {"wall": round(time.monotonic() - started, 3), "cpu": round(time.process_time() - cpu, 3),
            "ok": set(counts) == {"OK"}, "counts": counts}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("inventory", type=Path)
    parser.add_argument("--task-seconds", type=float, default=2.0)
    arguments = parser.parse_args()
    print(json.dumps(asyncio.run(main(arguments.inventory, arguments.task_seconds))))
