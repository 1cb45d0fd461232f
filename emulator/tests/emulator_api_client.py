"""How the emulator's tests talk to it: httpx, an independent client, over the remote's own TLS."""
from __future__ import annotations

import ssl
import time

import httpx


def client(info, authorization: str | None = None) -> httpx.Client:
    """A client of one remote's API, as root@pam!fleet unless `authorization` says otherwise."""
    return httpx.Client(base_url=f"https://{info.host}:{info.port}/api2/json", timeout=10,
                        headers={"Authorization": authorization or f"PVEAPIToken=root@pam!fleet={info.root_token_secret}"},
                        verify=ssl.create_default_context(cafile=info.ca_path))


def ok(response) -> object:
    assert response.status_code == 200, (response.status_code, response.text)
    return response.json()["data"]


def refused(response, status: int = 400) -> object:
    """A refusal's parameter errors (400), else its message."""
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()["errors"] if status == 400 else response.json()["message"]


def wait_task(c: httpx.Client, upid: str) -> None:
    """Until the task has stopped (at most 10 s)."""
    deadline = time.monotonic() + 10
    while ok(c.get(f"/nodes/{upid.split(':')[1]}/tasks/{upid}/status"))["status"] != "stopped":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def apply(c: httpx.Client) -> None:
    """Apply, and wait for the reload task (the nodes' reloads run inside it)."""
    wait_task(c, ok(c.put("/cluster/sdn")))


def fresh(emulator, name: str = "remote001"):
    """One remote of a test module's emulator, without faults, with the SDN and access configuration it started with."""
    info = emulator.remotes[name]
    info.control.clear_faults()
    info.control.reset(access=True)
    return info
