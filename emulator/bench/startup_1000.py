"""Start N emulated remotes (default 1000), send one request to each, report time and memory."""
from __future__ import annotations

import asyncio
import shutil
import ssl
import sys
import time

import httpx

from pvefleet_emulator.testing import EmulatorProcess


async def one_request_each(emu: EmulatorProcess) -> int:
    limit = asyncio.Semaphore(100)

    async def call(info) -> bool:
        context = ssl.create_default_context(cafile=info.ca_path)
        async with limit, httpx.AsyncClient(verify=context, timeout=30) as client:
            response = await client.get(f"https://{info.host}:{info.port}/api2/json/version",
                                        headers={"Authorization": f"PVEAPIToken=root@pam!fleet={info.token_secret}"})
            return response.status_code == 200

    return sum(await asyncio.gather(*(call(info) for info in emu.remotes.values())))


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    workdir, base = None, None  # the first start's, for the restart
    for attempt in ("first start (certificates made)", "restart (certificates reused)"):
        started = time.monotonic()
        emu = EmulatorProcess(remotes=count, workdir=workdir, base_address=base)
        emu.start()
        ready = time.monotonic() - started
        workdir, base = emu.workdir, emu.base_address
        answered = asyncio.run(one_request_each(emu))
        print(f"{count} remotes, {attempt}: ready in {ready:.1f}s, {answered}/{count} answered, "
              f"emulator RSS {rss_mib(emu.process.pid):.0f} MiB", flush=True)
        emu.stop()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
