"""Method "coordinator, in process": the fleet engine behind pvefleet.sdn.sdn_transaction, called
directly, so that its own cost is measured without Ansible's.

    python bench/coordinator.py INVENTORY [--concurrency N]

Prints one JSON object: the transaction's wall time, its own CPU time (imports left out), per-phase
timings and result counts.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleet_change import OBJECTS, connection_params, remotes_of  # noqa: E402

from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings  # noqa: E402
from ansible_collections.pvefleet.sdn.plugins.module_utils._transaction import (  # noqa: E402
    DEFAULT_CONCURRENCY,
    DesiredObject,
    FleetTransaction,
    Remote,
)


async def main(args: argparse.Namespace) -> dict:
    remotes = [Remote(name, ConnectionSettings.from_params(connection_params(hostvars), remote=name),
                      [DesiredObject(kind, dict(options)) for kind, options in OBJECTS])
               for name, hostvars in remotes_of(args.inventory.read_text()).items()]
    started, cpu = time.monotonic(), time.process_time()
    report = await FleetTransaction(remotes, concurrency=args.concurrency).run()
    return {"wall": round(time.monotonic() - started, 3), "cpu": round(time.process_time() - cpu, 3),
            "ok": report["ok"], "counts": report["counts"], "timings": report["timings"]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("inventory", type=Path)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
