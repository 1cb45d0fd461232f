"""Method "PDM-style baseline": what Proxmox Datacenter Manager does for a multi-remote SDN change,
written with this project's client: take the locks one remote after another, make the changes on
all remotes at once, apply everywhere, then poll every reload task every 3 seconds.

    python bench/pdm_baseline.py INVENTORY

Prints one JSON object: wall time and result counts. On a failure before applying it rolls back
and releases every remote it locked, as PDM does.
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

POLL_SECONDS = 3.0
BODIES = [(KINDS[kind].collection_path(), KINDS[kind].parse(options).to_wire()) for kind, options in OBJECTS]


async def create_all(client: PveClient, token: str) -> None:
    for path, body in BODIES:  # no reads: PDM creates what it was asked to
        await client.post(path, data={**body, "lock-token": token})


async def apply_and_poll(client: PveClient, token: str) -> str:
    upid = await client.put("/cluster/sdn", data={"lock-token": token, "release-lock": True})
    node = upid.split(":")[1]
    path = f"/nodes/{node}/tasks/{urllib.parse.quote(upid, safe='')}/status"
    while True:
        await asyncio.sleep(POLL_SECONDS)
        status = await client.get(path)
        if status.get("status") == "stopped":
            return str(status.get("exitstatus"))


async def main(inventory: Path) -> dict:
    hosts = remotes_of(inventory.read_text())
    started = time.monotonic()
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(
            PveClient(ConnectionSettings.from_params(connection_params(hostvars), remote=name)))
            for name, hostvars in sorted(hosts.items())]
        tokens = []
        try:
            for client in clients:  # one after another, as PDM's LockedSdnClients does
                tokens.append(await client.post("/cluster/sdn/lock", data={"allow-pending": False}))
            await asyncio.gather(*(create_all(c, t) for c, t in zip(clients, tokens)))
        except Exception:
            await asyncio.gather(*(c.post("/cluster/sdn/rollback", data={"lock-token": t, "release-lock": True})
                                   for c, t in zip(clients, tokens)), return_exceptions=True)
            raise
        statuses = await asyncio.gather(*(apply_and_poll(c, t) for c, t in zip(clients, tokens)))
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return {"wall": round(time.monotonic() - started, 3), "ok": set(counts) == {"OK"}, "counts": counts}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("inventory", type=Path)
    print(json.dumps(asyncio.run(main(parser.parse_args().inventory))))
