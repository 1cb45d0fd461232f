# Private to pvefleet.sdn: not a public API.
"""The exceptions every layer of the collection raises; the edges turn them into failed results.

Messages name the remote, the request and PVE's own words, and never hold a secret.
"""
from __future__ import annotations

import re
from typing import Any, Optional

# Perl appends " at FILE line N." to a die without a trailing newline (pve-sdn-api.md §10).
_PERL_LOCATION = re.compile(r" at /\S+ line \d+\.?\s*$", re.MULTILINE)


def clean_message(text: str) -> str:
    """PVE's message without Perl's source locations and trailing newlines."""
    return _PERL_LOCATION.sub("", text or "").strip()


class PveFleetError(Exception):
    """Base of every error of the collection."""

    def to_failure(self) -> dict:
        return {"type": type(self).__name__, "message": str(self)}


class MissingDependency(PveFleetError):
    def __init__(self, missing: list[str], detail: str = ""):
        self.missing = list(missing)
        self.detail = detail
        super().__init__(
            f"the Python libraries {', '.join(self.missing)} are needed on the Ansible controller; "
            "install them into the Python that runs Ansible: pip install httptools pydantic "
            "(or the collection's requirements.txt)")


class InvalidInput(PveFleetError):
    """Options that break a rule; found before anything is sent. `errors` maps option to rule."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {rule}" for field, rule in self.errors.items()))

    def to_failure(self) -> dict:
        return {**super().to_failure(), "errors": dict(self.errors)}


class ApiError(PveFleetError):
    """PVE answered with an error status."""

    def __init__(self, status: int, message: str, errors: Optional[dict] = None, *,
                 method: str = "", path: str = "", remote: str = "", raw: str = ""):
        self.status = status
        self.message = clean_message(message) or f"HTTP {status}"
        self.errors = {k: clean_message(str(v)) for k, v in (errors or {}).items()}
        self.method, self.path, self.remote = method, path, remote
        self.raw = raw or message
        super().__init__(self._text())

    def _text(self) -> str:
        where = f"{self.method} {self.path}".strip()
        text = f"{self.remote}: " if self.remote else ""
        text += f"{where} failed ({self.status}): {self.message}" if where else f"{self.status}: {self.message}"
        if self.errors:
            text += " (" + "; ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())) + ")"
        return text

    def to_failure(self) -> dict:
        return {**super().to_failure(), "status": self.status, "pve_message": self.message,
                "errors": dict(self.errors), "method": self.method, "path": self.path, "remote": self.remote}

    @classmethod
    def from_response(cls, status: int, message: str, errors: Optional[dict] = None, **where: Any) -> ApiError:
        """The most specific error class for what PVE said."""
        text = message or ""
        if status == 401:
            kind: type[ApiError] = AuthenticationError
        elif status == 403:
            kind = PermissionDeniedError
        elif status == 501:
            kind = NotImplementedByRemote
        elif "invalid lock token provided!" in text:
            kind = LockTokenError
        elif "configuration has pending changes" in text:
            kind = PendingChangesError
        else:
            kind = ApiError
        return kind(status, message, errors, **where)


class AuthenticationError(ApiError):
    """401: no, wrong or expired credentials (PVE's body is empty; the reason is in the status line)."""


class PermissionDeniedError(ApiError):
    """403: the user or token lacks a privilege (for SDN writes: SDN.Allocate)."""


class NotImplementedByRemote(ApiError):
    """501: the remote has no such endpoint, e.g. a PVE 8 remote asked for the SDN lock."""


class LockTokenError(ApiError):
    """PVE's "invalid lock token provided!": the lock is held and the token is missing or wrong."""


class LockHeldError(LockTokenError):
    """The lock could not be taken because another client holds it."""


class PendingChangesError(ApiError):
    """The lock was refused because the remote has pending SDN changes (see allow_pending)."""


class TransportError(PveFleetError):
    """No HTTP answer: connection refused, reset, timed out, TLS failure.

    `sent` is True when the request may have reached the server (it was written before the
    failure), so a non-idempotent call must not be repeated blindly.
    """

    def __init__(self, message: str, *, sent: bool, method: str = "", path: str = "", remote: str = ""):
        self.sent, self.message = sent, message
        self.method, self.path, self.remote = method, path, remote
        where = f"{method} {path}".strip()
        prefix = f"{remote}: " if remote else ""
        super().__init__(f"{prefix}{where + ': ' if where else ''}{message}")

    def to_failure(self) -> dict:
        return {**super().to_failure(), "sent": self.sent, "method": self.method, "path": self.path,
                "remote": self.remote}


class TlsError(TransportError):
    """The remote's certificate was not trusted or did not match the pinned fingerprint."""


class IdentityMismatch(TlsError):
    """The remote is not the one that issued the transaction's lock token (another address or
    certificate); nothing was sent."""


class TaskFailed(PveFleetError):
    def __init__(self, upid: str, exitstatus: str, log_tail: Optional[list[str]] = None):
        self.upid, self.exitstatus, self.log_tail = upid, exitstatus, list(log_tail or [])
        super().__init__(f"task {upid} failed: {exitstatus}")


class TaskTimeout(PveFleetError):
    def __init__(self, upid: str, seconds: float):
        self.upid, self.seconds = upid, seconds
        super().__init__(f"task {upid} did not finish within {seconds:g}s; it may still be running")
