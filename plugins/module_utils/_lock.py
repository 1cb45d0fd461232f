# Private to pvefleet.sdn: not a public API.
"""The SDN lock of one remote (pve-sdn-api.md §3): take, release, roll back, apply, probe."""
from __future__ import annotations

import asyncio
from typing import Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import (
    ApiError,
    LockHeldError,
    LockTokenError,
    NotImplementedByRemote,
    PermissionDeniedError,
)

# A zone ID that is valid (2-8 letters and digits) but that nobody is expected to use; holds()
# writes to it with a digest that cannot match, so nothing is ever changed.
PROBE_ZONE = "zz0probe"
IMPOSSIBLE_DIGEST = "0" * 40


class LockSession:
    def __init__(self, client):
        self.client = client

    async def acquire(self, allow_pending: bool = False) -> str:
        try:
            token = await self.client.post("/cluster/sdn/lock", data={"allow-pending": allow_pending})
        except NotImplementedByRemote as exc:
            raise NotImplementedByRemote(
                exc.status, f"the remote does not support the SDN lock API; it needs Proxmox VE 9 or newer ({exc.message})",
                method=exc.method, path=exc.path, remote=exc.remote) from None
        except LockTokenError as exc:
            # POST /lock never takes a token, so this means: someone holds the lock (§3.5).
            raise LockHeldError(
                exc.status, "another client holds the SDN lock of this remote (PVE: invalid lock token provided!). "
                "If it is left over from a run that died, free it with `pvesh delete /cluster/sdn/lock --force 1` "
                "or pvefleet.sdn.sdn_lock state=released force=true",
                method=exc.method, path=exc.path, remote=exc.remote) from None
        if not isinstance(token, str) or not token:
            raise ApiError(200, f"the lock call returned no token ({token!r})", method="POST",
                           path="/cluster/sdn/lock", remote=getattr(self.client.settings, "remote", ""))
        return token

    async def release(self, token: Optional[str], force: bool = False) -> None:
        params: dict = {}
        if token:
            params["lock-token"] = token
        if force:
            params["force"] = True
        await self.client.delete("/cluster/sdn/lock", params=params or None)  # PVE < 1.1.7 returned 1: ignored

    async def rollback(self, token: Optional[str], release: bool = True) -> None:
        # release-lock is sent explicitly: PVE reads it as sent and does not apply the default.
        data: dict = {"release-lock": release}
        if token:
            data["lock-token"] = token
        await self.client.post("/cluster/sdn/rollback", data=data)

    async def apply(self, token: Optional[str], release: bool = True) -> object:
        """PVE's answer, the reload task's UPID; parsed by the caller, since a 200 of any kind
        means PVE committed (and released the lock)."""
        data: dict = {"release-lock": release}
        if token:
            data["lock-token"] = token
        return await self.client.put("/cluster/sdn", data=data)

    async def probe(self) -> bool:
        """Whether any client holds the lock: a token-less DELETE without force is a no-op when
        nobody does, and fails with "invalid lock token provided!" when someone does (§3.1). PVE
        has no read of the lock, so this needs SDN.Allocate on /sdn (PermissionDeniedError)."""
        try:
            await self.client.delete("/cluster/sdn/lock")
        except LockTokenError:
            return True
        return False

    async def lock_state(self) -> dict:
        """For reports: `held` (True, False, or None when the token may not probe) and `state`."""
        try:
            held = await self.probe()
        except PermissionDeniedError:
            return {"held": None, "state": "unknown", "reason": "probing the lock needs SDN.Allocate on /sdn"}
        except ApiError as error:
            if error.status != 501:
                raise
            return {"held": None, "state": "unsupported", "reason": "this Proxmox VE has no SDN lock (it needs 9.0)"}
        return {"held": held, "state": "held" if held else "free"}

    async def holds(self, token: str) -> bool:
        """Whether the lock is held, and with this token, changing nothing.

        PVE accepts any token while no lock is held, so a write alone cannot tell; hence the
        probe. Then a zone update carrying the token: PVE checks the token first inside its
        domain lock, then the digest (which cannot match) or the zone's existence, so any error
        but the token error means the token was accepted, and nothing was written. Neither
        call changes anything, so both go at once: one round trip.
        """
        held, token_accepted = await asyncio.gather(self.probe(), self._accepts(token))
        return held and token_accepted

    async def _accepts(self, token: str) -> bool:
        try:
            await self.client.put(f"/cluster/sdn/zones/{PROBE_ZONE}",
                                  data={"lock-token": token, "digest": IMPOSSIBLE_DIGEST})
        except LockTokenError:
            return False
        except ApiError:
            return True
        return True
