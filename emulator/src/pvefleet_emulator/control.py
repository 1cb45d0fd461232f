"""A small client of the emulator's control API (control_api.py), for tests. Standard library only.

    control = EmulatorControl("https://127.0.0.2:8006/_emulator", "/path/to/pve-ssl.pem")
    control.fail("POST", r"^/cluster/sdn/vnets$", message="injected: disk full")
    control.state()["pending"]["vnets"]
"""
from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any, Optional

from pvefleet_emulator.net import CONTROL_ALPN

_UNSET: Any = object()


class ControlError(RuntimeError):
    """The control API refused a call (for example a fault spec it does not understand)."""


class EmulatorControl:
    def __init__(self, base_url: str, ca_path: Optional[str] = None, *, timeout: float = 30.0):
        """`base_url` is a remote's control URL (`pvefleet_emulator_url` in the inventory, ending
        in /_emulator); `ca_path` its certificate (`pvefleet_sdn_ca_path`)."""
        self.base_url = base_url.rstrip("/")
        self.context = ssl.create_default_context(cafile=ca_path) if ca_path else ssl.create_default_context()
        self.context.set_alpn_protocols([CONTROL_ALPN])  # outside the modelled network (net.py)
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Optional[dict] = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise ControlError(f"{method} {path}: {exc.code} {exc.read().decode(errors='replace')}") from None

    # Inspection

    def state(self) -> dict:
        """Everything below in one document (see the README for its keys)."""
        return self._call("GET", "/state")

    def running_config(self) -> dict:
        """{kind: {id: object}} for zones, vnets, subnets and controllers, as last applied."""
        return self.state()["running"]

    def pending_config(self) -> dict:
        """{kind: {id: object}} as in the pending section config files."""
        return self.state()["pending"]

    def lock_state(self) -> dict:
        """{"held": bool, "token": str or None}."""
        return self.state()["lock"]

    def version(self) -> int:
        """The running config version (0: never applied)."""
        return self.state()["version"]

    def tasks(self) -> list[dict]:
        return self.state()["tasks"]

    def requests(self) -> list[dict]:
        """The API requests answered since the last reset or clear_requests(), in the order they
        arrived: {"seq", "method", "path", ["query"], ["status"], ["fault"]} (see control_api.py)."""
        return self._call("GET", "/requests")

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def node_versions(self) -> dict[str, int]:
        """The config version each node generated with its last good reload."""
        return self.state()["node_versions"]

    # Faults

    def faults(self, **spec: Any) -> dict:
        """Add faults; keys as the control API takes them: latency_ms, fail, reload, reload_message,
        answering. Returns every fault now set."""
        return self._call("POST", "/faults", spec)

    def fail(self, method: str, path: str, *, nth: int = 1, times: Optional[int] = 1, status: int = 500,
             message: str = "injected failure", drop: Optional[str] = None) -> dict:
        """Fail the `nth` request matching method (or "*") and the path regex, and `times - 1` more
        (all from the nth on with times=None), with status and message, or with `drop` by closing
        the connection: "before" or "after" carrying the request out, "hang" never (the request is
        held, not carried out, until the client gives up), "truncate" after carrying it out and
        sending half the answer's body (faults.FailRule)."""
        rule = {"method": method, "path": path, "nth": nth, "times": times, "status": status, "message": message,
                "drop": drop}
        return self.faults(fail=rule)

    def drop(self, method: str, path: str, *, when: str = "before", nth: int = 1, times: Optional[int] = 1) -> dict:
        """fail() with drop=when: "before", "after", "hang" or "truncate"."""
        return self.fail(method, path, nth=nth, times=times, drop=when)

    def latency(self, milliseconds: float) -> dict:
        return self.faults(latency_ms=milliseconds)

    def reload_fault(self, kind: Optional[str], *, node: Optional[str] = None, error: bool = False,
                     message: Any = _UNSET) -> dict:
        """The next apply's reload: kind "fail" (its task fails), "hang" (it never stops), "node"
        (that node's srvreload fails; with error=True its zones show `error`, else `pending`),
        or None for a normal reload."""
        value = kind
        if kind == "node":
            value = f"node:{node}" + (":error" if error else "")
        spec: dict[str, Any] = {"reload": value}
        if message is not _UNSET:
            spec["reload_message"] = message
        return self.faults(**spec)

    def stop_answering(self) -> dict:
        return self.faults(answering=False)

    def resume(self) -> dict:
        return self.faults(answering=True)

    def clear_faults(self) -> dict:
        return self._call("DELETE", "/faults")

    # State changes

    def hold_lock(self) -> str:
        """Take the SDN lock as another client would; returns its token (which no client knows)."""
        return self._call("POST", "/lock")["token"]

    def release_lock(self) -> None:
        self._call("DELETE", "/lock")

    def reset(self, *, access: bool = False) -> dict:
        """An empty SDN configuration, never applied, no lock, no tasks, an empty request log; faults
        are kept, and so is the access configuration unless `access` (then as reset_access())."""
        return self._call("POST", "/reset", {"access": True} if access else None)

    # Access configuration (users, tokens, groups, roles, ACL entries: see access.py)

    def access(self) -> dict:
        """{"users", "groups", "roles", "acl"} as GET /_emulator/access lists them (no secrets)."""
        return self._call("GET", "/access")

    def add_user(self, userid: str, password: Optional[str] = None, *, enable: bool = True, expire: int = 0,
                 groups: tuple[str, ...] | list[str] = ()) -> dict:
        """A user `name@pam` or `name@pve`; with a password it can log in for a ticket."""
        return self._call("POST", "/access/users", {"userid": userid, "password": password, "enable": int(enable),
                                                    "expire": expire, "groups": list(groups)})

    def remove_user(self, userid: str) -> dict:
        """The user goes, with its tokens, its group memberships and its ACL entries."""
        return self._call("DELETE", f"/access/users/{userid}")

    def add_token(self, userid: str, name: str, *, privsep: bool = True, expire: int = 0) -> dict:
        """A new API token `userid!name`: {"full-tokenid", "value" (its secret), "info"}. With
        `privsep` (PVE's default) it has only what its own ACL entries and its user both give."""
        return self._call("POST", "/access/tokens", {"userid": userid, "tokenid": name, "privsep": int(privsep),
                                                     "expire": expire})

    def remove_token(self, tokenid: str) -> dict:
        return self._call("DELETE", f"/access/tokens/{tokenid}")

    def add_group(self, groupid: str, users: tuple[str, ...] | list[str] = ()) -> dict:
        return self._call("POST", "/access/groups", {"groupid": groupid, "users": list(users)})

    def remove_group(self, groupid: str) -> dict:
        return self._call("DELETE", f"/access/groups/{groupid}")

    def add_role(self, roleid: str, privs: tuple[str, ...] | list[str]) -> dict:
        """A custom role: a name and privileges (each one PVE knows)."""
        return self._call("POST", "/access/roles", {"roleid": roleid, "privs": list(privs)})

    def remove_role(self, roleid: str) -> dict:
        return self._call("DELETE", f"/access/roles/{roleid}")

    def add_acl(self, path: str, role: str | list[str], *, users: tuple[str, ...] | list[str] = (),
                tokens: tuple[str, ...] | list[str] = (), groups: tuple[str, ...] | list[str] = (),
                propagate: bool = True) -> dict:
        """ACL entries on `path` giving `role` (or each of a list of roles) to users, tokens and
        groups, as PVE's `PUT /access/acl`; `propagate` (the default) makes them hold below too."""
        return self._call("POST", "/access/acl", {"path": path, "roles": [role] if isinstance(role, str) else role,
                                                  "users": list(users), "tokens": list(tokens),
                                                  "groups": list(groups), "propagate": int(propagate)})

    def remove_acl(self, path: str, role: str | list[str], *, users: tuple[str, ...] | list[str] = (),
                   tokens: tuple[str, ...] | list[str] = (), groups: tuple[str, ...] | list[str] = ()) -> dict:
        return self._call("DELETE", "/access/acl", {"path": path, "roles": [role] if isinstance(role, str) else role,
                                                    "users": list(users), "tokens": list(tokens),
                                                    "groups": list(groups)})

    def reset_access(self) -> dict:
        """Back to the access configuration the remote started with: root@pam, root@pam!fleet, and
        what the command line asked for, with the same secrets."""
        return self._call("POST", "/access/reset")
