"""The global SDN lock: its token, and the check every lock-aware write goes through.

`locked()` is what pve-network's lock_sdn_config does (pve-sdn-api.md §3.2): take the cluster's
short "domain-sdn" mutex (here an asyncio.Lock per remote, waited for at most 10 s), refuse
the call when a lock token is stored and the caller's token is missing or different, run the
work, and re-raise any error as the plain text "<prefix>: <error>", which makes it a 500.
"""
from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional

from pvefleet_emulator.errors import ApiError, Die, perl_die, with_prefix

if TYPE_CHECKING:
    from pvefleet_emulator.remote import Remote

DOMAIN_LOCK_WAIT = 10.0  # seconds pmxcfs waits for the domain lock (§3.2 step 1)
INVALID_TOKEN = "invalid lock token provided!"


def new_token() -> str:
    """A UUIDv7 in the lowercase text form libuuid prints (§3.1): 48 bits of Unix milliseconds,
    the version, random bits, the RFC 4122 variant."""
    millis = int(time.time() * 1000) & ((1 << 48) - 1)
    rand_a = int.from_bytes(os.urandom(2), "big") & 0x0FFF
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    return str(uuid.UUID(int=(millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b))


def perl_true(value: Any) -> bool:
    """Perl truth of a parameter as sent: missing, empty and "0" are false (no schema defaults)."""
    return value not in (None, "", "0", 0, False)


async def locked(remote: Remote, prefix: str, token: Optional[str], work: Callable[[], Any]) -> Any:
    """Run `work` as one SDN write of `remote`; persist the result; errors get `prefix`."""
    if remote.domain_lock.locked():  # wait_for costs a task: only when there is a wait
        try:
            await asyncio.wait_for(remote.domain_lock.acquire(), DOMAIN_LOCK_WAIT)
        except asyncio.TimeoutError:
            raise Die(f"{prefix}: cfs-lock 'domain-sdn' error: got lock request timeout\n") from None
    else:
        await remote.domain_lock.acquire()
    try:
        stored = remote.config.lock
        if stored is not None and token != stored:
            raise perl_die(INVALID_TOKEN, "Network/SDN.pm")  # the same text for no and wrong token
        result = work()
    except ApiError as exc:
        raise with_prefix(prefix, exc) from None
    finally:
        remote.domain_lock.release()
    remote.persist()
    return result
