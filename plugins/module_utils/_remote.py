# Private to pvefleet.sdn: not a public API.
"""One remote of a transaction and everything that happens to it, as both styles, the watchdog and
recovery see it: how to reach it, the lock it holds, its phase, and what the journal keeps of it."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import PveFleetError
from ansible_collections.pvefleet.sdn.plugins.module_utils._phases import HOLDING, SUCCEEDED, Phase
from ansible_collections.pvefleet.sdn.plugins.module_utils._resource import KINDS

# What the journal keeps of a remote, besides its connection settings' public fields.
RECORDED = ("phase", "token", "identity", "allow_pending", "error", "recovery", "unwind", "apply", "by", "undo")


@dataclass(frozen=True)
class DesiredObject:
    kind: str
    options: dict
    state: str = "present"
    purge: bool = False

    @property
    def label(self) -> str:
        kind = KINDS.get(self.kind)
        name = self.options.get(kind.id_option if kind else self.kind)
        if kind is not None and kind.parent:
            return f"{kind.describe(None)} {name} of {kind.parent} {self.options.get(kind.parent)}"
        return f"{kind.describe(None) if kind else self.kind} {name}"


@dataclass
class Remote:
    """`identity`: who issued our lock token (the address and the certificate seen when the lock
    was taken); every later call that carries the token checks it (_client.py)."""

    host: str
    settings: ConnectionSettings
    objects: list[DesiredObject] = field(default_factory=list)
    phase: Phase = Phase.PLANNED
    token: Optional[str] = None
    identity: Optional[dict] = None
    changed: bool = False
    allow_pending: bool = False
    results: list[dict] = field(default_factory=list)
    error: Optional[str] = None
    recovery: Optional[str] = None
    apply: Optional[dict] = None
    unwind: Optional[dict] = None
    pending: list[str] = field(default_factory=list)
    by: Optional[str] = None
    version: Optional[str] = None  # its Proxmox VE version, as the preflight read it
    missing_privileges: list = field(default_factory=list)  # check mode: (path, privilege) the token lacks
    preview: Optional[dict] = None  # what each node would get (steps.preview)
    revert: Optional[dict] = None  # what on_apply_failure=revert did (_revert.outcome)
    revert_error: Optional[str] = None  # why the revert could not look at this remote
    # The writes PVE's rollback does not undo (IPAM and DNS plugins), and how to undo each (_undo.py);
    # they hold the plugins' secrets, so they go to the journal (0600) but never to a report.
    undo: list[dict] = field(default_factory=list)
    # (kind, options) written after the apply, outside the lock (_after_apply.py); their results, or
    # why they stopped (the SDN change stays applied).
    after: list[tuple[str, dict]] = field(default_factory=list)
    after_results: list[dict] = field(default_factory=list)
    after_error: Optional[str] = None
    client: Any = None
    # Called with (remote, changed fields) whenever the remote changes phase: the journal's pen.
    on_change: Optional[Callable[[Remote, dict], None]] = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.settings.api_host}:{self.settings.api_port}"

    @property
    def ok(self) -> bool:
        return self.phase in SUCCEEDED

    def enter(self, phase: Phase, **fields) -> None:
        """Move to `phase`, with the fields that change with it (token, error, recovery, ...)."""
        self.phase = phase
        for name, value in fields.items():
            setattr(self, name, value)
        if self.on_change is not None:
            self.on_change(self, {"phase": phase, **fields})

    def failed(self, exc: BaseException) -> str:
        """Record `exc` as this remote's failure, whatever its type (a bug must never leave a lock
        unseen): the phase says what is left to undo. The message, naming the remote."""
        text = str(exc) if isinstance(exc, PveFleetError) else f"internal error: {type(exc).__name__}: {exc}"
        if self.phase in HOLDING:
            self.enter(Phase.FAILED, error=self.error or text)
        elif self.phase == Phase.LOCKING:
            # The lock request may have been answered but its token not kept: recovery probes.
            self.enter(Phase.LOCK_UNKNOWN if self.token is None else Phase.FAILED, error=self.error or text)
        else:
            self.error = self.error or text
        return text if text.startswith(f"{self.host}:") or self.host in text else f"{self.host}: {text}"

    @classmethod
    def from_entry(cls, host: str, settings: ConnectionSettings, entry: dict, **fields) -> Remote:
        """A remote as the journal left it, to be acted on by another process (a host standing in
        for it, the watchdog, recovery)."""
        phase = Phase(entry.get("phase") or Phase.PLANNED)
        return cls(host, settings, phase=phase, token=entry.get("token"), identity=entry.get("identity"),
                   allow_pending=bool(entry.get("allow_pending")), changed=phase in (Phase.CHANGED, Phase.FAILED),
                   error=entry.get("error"), apply=entry.get("apply"), results=list(entry.get("results") or []),
                   undo=list(entry.get("undo") or []), **fields)

    def record(self) -> dict:
        """The journal's entry of this remote (its token included: the journal is 0600). Fields
        that are unset are written as null, so that a token let go of is gone from the file."""
        entry = self.settings.public_fields()
        entry.update({name: getattr(self, name) for name in RECORDED})
        return entry

    def report(self) -> dict:
        """The result's entry of this remote (no token)."""
        data = {"host": self.host, "remote": self.key, "phase": str(self.phase), "ok": self.ok and not self.after_error,
                "changed": self.changed or any(r.get("changed") for r in self.after_results),
                "objects": self.results + self.after_results}
        for name in ("error", "recovery", "apply", "unwind", "by", "preview", "revert", "after_error"):
            if getattr(self, name):
                data[name] = getattr(self, name)
        if self.missing_privileges:
            data["missing_privileges"] = [f"{priv} on {path}" for path, priv in self.missing_privileges]
        outside = self.outside_rollback()
        if outside:
            data["outside_rollback"] = outside
        return data

    def outside_rollback(self) -> list[str]:
        """The writes of this remote that PVE's rollback does not undo, and what stands in for it: said
        in every result, the plan's too."""
        undone = [f"{result['kind']} {result.get('id')}: written at once, undone by a compensating write if the "
                  "transaction rolls back" for result in self.results
                  if result.get("changed") and getattr(KINDS.get(result["kind"]), "immediate", False)]
        return undone + [f"{kind.replace('_', ' ')} {options.get('vnet')}"
                         f"{'/' + str(options['ip']) if options.get('ip') else ''}: written after the apply, "
                         "outside the SDN lock; never rolled back" for kind, options in self.after]
