"""What the permission model adds to a request by root@pam!fleet, in process: the token check
against the access configuration and the schema's permission check, per endpoint kind, in
microseconds (compare with the whole request's CPU time from request_cost.py)."""
from __future__ import annotations

import functools
import timeit

from pvefleet_emulator import auth, schema
from pvefleet_emulator.access import AccessSetup, check_api2_permissions, start_config

CALLS = [("GET", "/version", {}), ("GET", "/cluster/sdn/zones", {}), ("POST", "/cluster/sdn/zones", {"zone": "b1"}),
         ("GET", "/cluster/sdn/zones/{zone}", {"zone": "b1"}), ("POST", "/cluster/sdn/vnets", {"zone": "b1"}),
         ("PUT", "/nodes/{node}/network", {"node": "pve1"})]


def main() -> None:
    credentials = auth.Credentials(auth.new_credentials())
    config = start_config(AccessSetup(), {"root_password": credentials.password,
                                          "root_token_secret": credentials.token_secret})
    header = f"root@pam!fleet={credentials.token_secret}"
    rounds = 20000
    seconds = timeit.timeit(lambda: credentials.check_token(header, config), number=rounds)
    print(f"token check: {seconds / rounds * 1e6:.2f} us")

    def check(method: str, template: str, params: dict) -> None:
        check_api2_permissions(config, schema.permissions(template, method), "root@pam!fleet", params)

    for method, template, params in CALLS:
        seconds = timeit.timeit(functools.partial(check, method, template, params), number=rounds)
        print(f"{method} {template}: schema check {seconds / rounds * 1e6:.2f} us")
    seconds = timeit.timeit(lambda: config.has_every_privilege("root@pam!fleet"), number=rounds)
    print(f"list filter skipped (has_every_privilege): {seconds / rounds * 1e6:.2f} us")


if __name__ == "__main__":
    main()
