"""The emulator's own CPU time per API request made by root@pam's token (the 1000-remote benchmark's
caller), read from /proc before and after a fixed mix of requests, so the client's cost is left out.

    python emulator/bench/request_cost.py [ROUNDS]      # default 2000 rounds of 6 requests
"""
from __future__ import annotations

import os
import ssl
import sys
import time

import httpx

from pvefleet_emulator.testing import EmulatorProcess


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def one_round(client: httpx.Client, index: int) -> None:
    zone = f"b{index % 1000}"
    for response in (client.get("/version"), client.get("/cluster/sdn/zones"), client.get("/cluster/sdn/vnets"),
                     client.post("/cluster/sdn/zones", data={"zone": zone, "type": "simple"}),
                     client.get(f"/cluster/sdn/zones/{zone}"), client.delete(f"/cluster/sdn/zones/{zone}")):
        assert response.status_code == 200, response.text


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with EmulatorProcess(remotes=1) as emu:
        info = emu.remotes["remote001"]
        token = f"PVEAPIToken=root@pam!fleet={info.token_secret}"  # the default inventory token
        with httpx.Client(base_url=f"https://{info.host}:{info.port}/api2/json", headers={"Authorization": token},
                          verify=ssl.create_default_context(cafile=info.ca_path), timeout=30) as client:
            for index in range(50):  # warm up: connection, caches
                one_round(client, index)
            before, started = cpu_seconds(emu.process.pid), time.monotonic()
            for index in range(rounds):
                one_round(client, index)
            used, wall = cpu_seconds(emu.process.pid) - before, time.monotonic() - started
    requests = rounds * 6
    print(f"{requests} requests by root@pam!fleet: emulator CPU {used * 1e6 / requests:.0f} us/request, "
          f"wall {wall * 1e6 / requests:.0f} us/request", flush=True)


if __name__ == "__main__":
    main()
