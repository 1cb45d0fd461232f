"""`pvefleet-emulator`: start N emulated PVE remotes, write their inventory, print `ready`."""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import signal
import sys
import time
from pathlib import Path

from pvefleet_emulator.access import AccessSetup
from pvefleet_emulator.app import ApiApp
from pvefleet_emulator.inventory import write_inventory
from pvefleet_emulator.net import listen
from pvefleet_emulator.remote import Remote, RemoteSettings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pvefleet-emulator", description=__doc__)
    parser.add_argument("--remotes", type=int, default=3, help="how many PVE clusters (default 3)")
    parser.add_argument("--nodes", type=int, default=1, help="nodes per cluster (default 1)")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="round-trip time of the modelled network to each remote (net.py): a new connection "
                             "costs 2 round trips (3 with TLS 1.2), each request 1")
    parser.add_argument("--task-seconds", type=float, default=2.0, help="how long an apply's reload takes")
    parser.add_argument("--addressing", choices=["ip", "ports"], default="ip",
                        help="ip: 127.0.0.2, 127.0.0.3, ... at --port; ports: 127.0.0.1 at --base-port, +1, ...")
    parser.add_argument("--base-address", default="127.0.0.2")
    parser.add_argument("--port", type=int, default=8006)
    parser.add_argument("--base-port", type=int, default=18006)
    parser.add_argument("--pve8", action="append", default=[], metavar="NAME",
                        help="start this remote (e.g. remote003) as PVE 8, without the lock API; repeatable")
    parser.add_argument("--pve91", action="append", default=[], metavar="NAME",
                        help="start this remote as PVE 9.1: no prefix lists, route maps or the other 9.2 "
                             "additions; repeatable")
    parser.add_argument("--auth-fail-delay", type=float, default=3.0, help="seconds before a 401 (PVE: ~3)")
    parser.add_argument("--log-requests", action="store_true",
                        help="print each API request and its status to standard error")
    access = parser.add_argument_group(
        "access", "the inventory's API token; without --token-role it is root@pam!fleet, with every privilege")
    access.add_argument("--token-role", metavar="ROLE",
                        help="the inventory's token is USER!fleet with this role (built-in or --role) on "
                             "--token-role-path, propagated")
    access.add_argument("--token-role-path", default="/", metavar="PATH", help="the ACL path of --token-role "
                                                                               "(default /)")
    access.add_argument("--token-privsep", type=int, choices=[0, 1], default=1,
                        help="1 (default): a privilege-separated token, the ACL entry for it and for its user; "
                             "0: the token has its user's privileges, the ACL entry is for the user")
    access.add_argument("--token-user", default="fleet@pve", metavar="USER@REALM",
                        help="the user owning the --token-role token (default fleet@pve; realm pam or pve)")
    access.add_argument("--role", action="append", default=[], metavar="NAME:PRIV,PRIV",
                        help="a custom role on every remote; repeatable")
    parser.add_argument("--inventory", type=Path, required=True, help="where to write the Ansible inventory")
    parser.add_argument("--state-dir", type=Path, required=True, help="where each remote keeps its state")
    args = parser.parse_args(argv)
    roles = []
    for text in args.role:
        name, sep, privs = text.partition(":")
        if not sep:
            parser.error(f"--role {text}: NAME:PRIV,PRIV expected")
        roles.append((name, tuple(p for p in privs.split(",") if p)))
    args.access = AccessSetup(token_role=args.token_role, token_role_path=args.token_role_path,
                              token_privsep=bool(args.token_privsep), token_user=args.token_user, roles=tuple(roles))
    for problem in args.access.problems():
        parser.error(problem)
    return args


def endpoints(args: argparse.Namespace) -> list[tuple[str, int]]:
    if args.addressing == "ports":
        return [("127.0.0.1", args.base_port + i) for i in range(args.remotes)]
    result: list[tuple[str, int]] = []
    address = ipaddress.ip_address(args.base_address)
    while len(result) < args.remotes:
        if str(address).rsplit(".", maxsplit=1)[-1] not in ("0", "255"):
            result.append((str(address), args.port))
        address += 1
    return result


async def serve(args: argparse.Namespace) -> None:
    started = time.monotonic()
    remotes = [Remote(RemoteSettings(f"remote{i + 1:03d}", address, port, args.nodes,
                                     pve8=f"remote{i + 1:03d}" in args.pve8, pve91=f"remote{i + 1:03d}" in args.pve91,
                                     task_seconds=args.task_seconds,
                                     auth_fail_delay=args.auth_fail_delay, latency_ms=args.latency_ms,
                                     access=args.access),
                      args.state_dir)
               for i, (address, port) in enumerate(endpoints(args))]
    emulator = ApiApp(remotes, log_requests=args.log_requests)
    listeners = await listen(remotes, emulator.server)
    write_inventory(args.inventory, remotes)
    print(f"started {len(remotes)} remote(s) in {time.monotonic() - started:.2f}s", file=sys.stderr, flush=True)
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await emulator.stop(listeners)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.state_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
