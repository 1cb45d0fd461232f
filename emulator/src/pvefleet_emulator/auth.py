"""PVE authentication for one remote: API tokens, tickets and CSRF tokens (pve-sdn-api.md §2.2).

Each remote has the user root@pam with a password and the API token root@pam!fleet. Tickets
look like PVE's, `PVE:<user>:<8 hex timestamp>::<signature>`, and live 2 hours; CSRF tokens are
`<8 uppercase hex timestamp>:<signature>`. The signatures are HMACs with a per-remote key.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Optional

USER = "root@pam"
TOKEN_NAME = "fleet"
TICKET_LIFETIME = 2 * 3600
CLOCK_GRACE = 300


def new_credentials() -> dict:
    return {"user": USER, "password": secrets.token_urlsafe(15), "token_name": TOKEN_NAME,
            "token_secret": _uuid4_text(), "ticket_key": secrets.token_hex(32)}


def _uuid4_text() -> str:
    """PVE token secrets are UUIDs."""
    value = bytearray(secrets.token_bytes(16))
    value[6] = (value[6] & 0x0F) | 0x40
    value[8] = (value[8] & 0x3F) | 0x80
    text = value.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class Credentials:
    def __init__(self, data: dict):
        self.user: str = data["user"]
        self.password: str = data["password"]
        self.token_name: str = data["token_name"]
        self.token_secret: str = data["token_secret"]
        self._key = bytes.fromhex(data["ticket_key"])

    @property
    def token_id(self) -> str:
        return f"{self.user}!{self.token_name}"

    def _sign(self, text: str) -> str:
        return base64.b64encode(hmac.new(self._key, text.encode(), hashlib.sha256).digest()).decode()

    def ticket(self, user: str, now: Optional[float] = None) -> str:
        plain = f"PVE:{user}:{int(now if now is not None else time.time()):08X}"
        return f"{plain}::{self._sign(plain)}"

    def csrf_token(self, user: str, now: Optional[float] = None) -> str:
        stamp = f"{int(now if now is not None else time.time()):08X}"
        return f"{stamp}:{self._sign(stamp + ':' + user)}"

    def login(self, username: str, password: str, realm: Optional[str]) -> Optional[dict]:
        """POST /access/ticket: the answer data, or None for "authentication failure".
        A valid ticket of the user is accepted as password, which renews it."""
        user = username if "@" in username or not realm else f"{username}@{realm}"
        if user != self.user:
            return None
        if not hmac.compare_digest(password.encode(), self.password.encode()) and self.check_ticket(password) != user:
            return None
        return {"username": user, "ticket": self.ticket(user), "CSRFPreventionToken": self.csrf_token(user),
                "cap": {"sdn": {"SDN.Allocate": 1, "SDN.Audit": 1, "SDN.Use": 1},
                        "nodes": {"Sys.Audit": 1, "Sys.Modify": 1}}}

    def check_ticket(self, ticket: str) -> Optional[str]:
        """The user a ticket belongs to, or None if it is forged, malformed or expired."""
        plain, sep, signature = ticket.partition("::")
        parts = plain.split(":")
        if not sep or len(parts) != 3 or parts[0] != "PVE" or len(parts[2]) != 8:
            return None
        if not hmac.compare_digest(self._sign(plain).encode(), signature.encode()):
            return None
        return parts[1] if _fresh(parts[2]) else None

    def check_csrf(self, user: str, token: str) -> bool:
        stamp, sep, signature = (token or "").partition(":")
        if not sep or len(stamp) != 8 or not _fresh(stamp):
            return False
        return hmac.compare_digest(self._sign(stamp + ":" + user).encode(), signature.encode())

    def check_token(self, value: str) -> Optional[str]:
        """`USER@REALM!TOKENID=SECRET` (up to any `;`), split at the last `=` (§2.2): the full token
        id if it is ours and the secret matches, else None."""
        token_id, sep, secret = value.split(";", 1)[0].strip().rpartition("=")
        if not sep or token_id != self.token_id:
            return None
        return token_id if hmac.compare_digest(secret.encode(), self.token_secret.encode()) else None


def _fresh(stamp: str) -> bool:
    try:
        age = time.time() - int(stamp, 16)
    except ValueError:
        return False
    return -CLOCK_GRACE <= age <= TICKET_LIFETIME
