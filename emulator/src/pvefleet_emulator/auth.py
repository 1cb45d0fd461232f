"""PVE authentication: API tokens, tickets and CSRF tokens (pve-sdn-api.md §2.2)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from typing import Optional

TICKET_LIFETIME = 2 * 3600
CLOCK_GRACE = 300


class Credentials:
    """One remote's users, tokens and the key its tickets are signed with."""

    def __init__(self, data: dict):
        self.password: str = data["password"]
        self.token_secret: str = data["token_secret"]
        self.key: bytes = bytes.fromhex(data["key"])
        self.user, self.token_name = "root@pam", "fleet"

    def _sign(self, text: str) -> str:
        return base64.b64encode(hmac.new(self.key, text.encode(), hashlib.sha256).digest()).decode().rstrip("=")

    def login(self, username: str, password: str, realm: Optional[str]) -> Optional[dict]:
        user = username if "@" in username or not realm else f"{username}@{realm}"
        if user != self.user or not hmac.compare_digest(password, self.password):
            return None
        stamp = f"{int(time.time()):08X}"
        plain = f"PVE:{user}:{stamp}"
        return {"username": user, "ticket": f"{plain}::{self._sign(plain)}",
                "CSRFPreventionToken": f"{stamp}:{self._sign(stamp + ':' + user)}",
                "cap": {"sdn": {"SDN.Allocate": 1, "SDN.Audit": 1}}}

    def check_ticket(self, ticket: str) -> Optional[str]:
        plain, _sep, signature = ticket.partition("::")
        parts = plain.split(":")
        if len(parts) != 3 or parts[0] != "PVE" or not hmac.compare_digest(self._sign(plain), signature):
            return None
        age = time.time() - int(parts[2], 16)
        if age > TICKET_LIFETIME or age < -CLOCK_GRACE:
            return None
        return parts[1]

    def check_csrf(self, user: str, token: str) -> bool:
        stamp, _sep, signature = (token or "").partition(":")
        return bool(stamp) and hmac.compare_digest(self._sign(stamp + ":" + user), signature)

    def check_token(self, header_value: str) -> Optional[str]:
        """`user@realm!tokenid=secret`: split at the last `=` (§2.2); the full token id, or None."""
        text = header_value.split(";", 1)[0]
        token_id, sep, secret = text.rpartition("=")
        if not sep or token_id != f"{self.user}!{self.token_name}":
            return None
        return token_id if hmac.compare_digest(secret, self.token_secret) else None


def ticket_from_cookie(cookie_header: str) -> Optional[str]:
    for part in (cookie_header or "").split(";"):
        name, _sep, value = part.strip().partition("=")
        if name == "PVEAuthCookie":
            return urllib.parse.unquote(value)
    return None
