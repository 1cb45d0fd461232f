"""The errors a handler can raise, and how PVE's HTTP server turns them into answers.

PVE has two kinds of errors (pve-sdn-api.md §2.4): structured exceptions that carry their own
status code (a parameter error is 400 with a per-parameter `errors` object), and plain dies,
which always become 500 with the text as message.
"""
from __future__ import annotations

from typing import Optional


class ApiError(Exception):
    """An answer other than 200: status, full message text, optional per-parameter errors."""

    def __init__(self, status: int, message: str, errors: Optional[dict[str, str]] = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


class ParamError(ApiError):
    """400 "Parameter verification failed." with one text per parameter."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(400, "Parameter verification failed.\n", errors)

    def flattened(self) -> str:
        """The exception as text, the way it reads once PVE formats it into a string (§3.4):
        the code, the message, then one `name: text` line per parameter."""
        lines = "".join(f"{name}: {text}\n" for name, text in sorted((self.errors or {}).items()))
        return f"400 {self.message}{lines}"


class Die(ApiError):
    """A plain die: HTTP 500 with exactly this text as message."""

    def __init__(self, text: str):
        super().__init__(500, text)


# Where pve-network 1.3.0 raises its newline-less dies. Perl then appends " at FILE line N.";
# the numbers differ between versions, so clients must match on the text before " at ".
_PERL_LINES = {
    "Network/SDN.pm": 291,
    "API2/Network/SDN.pm": 149,
    "Network/SDN/Zones/EvpnPlugin.pm": 208,
    "Network/SDN/Zones/Plugin.pm": 233,
    "SectionConfig.pm": 590,
}


def perl_die(text: str, module: str, line: Optional[int] = None) -> Die:
    """A die whose text has no trailing newline: Perl adds where it happened (`line`, where a
    module has several such dies, else the module's line of _PERL_LINES)."""
    return Die(f"{text} at /usr/share/perl5/PVE/{module} line {line or _PERL_LINES.get(module, 100)}.\n")


def with_prefix(prefix: str, error: ApiError) -> Die:
    """pve-network's `die "$errprefix: $@"` (§3.2 step 4): any error, a parameter error included,
    becomes a plain string and so a 500 without an `errors` object (§3.4)."""
    text = error.flattened() if isinstance(error, ParamError) else error.message
    return Die(f"{prefix}: {text}")
