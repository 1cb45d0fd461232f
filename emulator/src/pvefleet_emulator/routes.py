"""The table of API endpoints: method, path template (as in PVE's schema), handler.

A handler gets a `Call` and returns the answer's `data`, or `WithTotal(data, total)` for the
answers that also carry a top-level `total` (§2.4).
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Optional

if TYPE_CHECKING:
    from pvefleet_emulator.remote import Remote


@dataclass
class Call:
    remote: Remote
    method: str
    template: str
    params: dict[str, Any]  # validated, path parameters included
    user: str  # the authenticated user, for a token the full token id
    now: float

    # The checks handlers make in code (RPCEnvironment.pm check and check_any, on the caller)

    def may(self, path: str, privs: tuple[str, ...]) -> bool:
        """Whether the caller has any of `privs` on `path` (check_any with noerr: list filters)."""
        return self.remote.access.check_any(self.user, path, privs, noerr=True)

    def require_any(self, path: str, privs: tuple[str, ...]) -> None:
        """check_any: a 403 "Permission check failed (PATH, A|B)" unless the caller has one of them."""
        self.remote.access.check_any(self.user, path, privs)

    def require(self, path: str, privs: tuple[str, ...]) -> None:
        """check: a 403 "Permission check failed (PATH, P)" for the first of `privs` it lacks."""
        self.remote.access.check(self.user, path, privs)

    @property
    def unrestricted(self) -> bool:
        """root@pam, or its token without privilege separation: every check passes."""
        return self.remote.access.has_every_privilege(self.user)


class WithTotal(NamedTuple):
    data: Any
    total: int


Handler = Callable[[Call], Awaitable[Any]]


@dataclass
class Route:
    method: str
    template: str
    handler: Handler
    needs_auth: bool = True  # False: the login, which works without credentials
    pve9_only: bool = False  # not on a PVE 8 node: 501 there
    pve92_only: bool = False  # new in PVE 9.2: 501 on a 9.1 or 8 node, which has no such path
    # The template's segments, a parameter's as None: made once, matched on every request.
    segments: tuple[Optional[str], ...] = field(init=False)
    parameters: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        parts = self.template.strip("/").split("/") if self.template != "/" else []
        self.segments = tuple(None if part.startswith("{") and part.endswith("}") else part for part in parts)
        self.parameters = tuple(part[1:-1] for part in parts if part.startswith("{") and part.endswith("}"))


ROUTES: list[Route] = []
# The routes by method and number of segments, each list in the order of ROUTES: the first that
# matches wins.
_BY_SHAPE: dict[tuple[str, int], list[Route]] = {}


def route(method: str, template: str, *, needs_auth: bool = True, pve9_only: bool = False,
          pve92_only: bool = False):
    def register(handler: Handler) -> Handler:
        entry = Route(method, template, handler, needs_auth, pve9_only, pve92_only)
        ROUTES.append(entry)
        _BY_SHAPE.setdefault((method, len(entry.segments)), []).append(entry)
        return handler
    return register


def match(method: str, path: str) -> Optional[tuple[Route, dict[str, str]]]:
    """The route for METHOD path (already unescaped), with the path parameters."""
    stripped = path.strip("/")
    parts = stripped.split("/") if stripped else []
    for candidate in _BY_SHAPE.get((method, len(parts)), ()):
        values: list[str] = []
        for segment, part in zip(candidate.segments, parts):
            if segment is None:
                if not part:
                    break
                values.append(part)
            elif segment != part:
                break
        else:
            return candidate, dict(zip(candidate.parameters, values))
    return None
