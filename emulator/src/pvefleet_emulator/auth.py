"""PVE authentication for one remote: API tokens, tickets and CSRF tokens (pve-sdn-api.md §2.2).

Each remote starts with the user root@pam, with a password, and its API token root@pam!fleet
(without privilege separation); access.py keeps these and every other user and token. Tickets
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

from pvefleet_emulator.access import ROOT, AccessConfig, normalize_path, perl_true
from pvefleet_emulator.formats import split_list

USER = "root@pam"
TOKEN_NAME = "fleet"
TICKET_LIFETIME = 2 * 3600
CLOCK_GRACE = 300


def new_credentials() -> dict:
    return {"user": USER, "password": secrets.token_urlsafe(15), "token_name": TOKEN_NAME,
            "token_secret": new_token_secret(), "ticket_key": secrets.token_hex(32)}


def new_setup_secrets() -> dict:
    """The password of the command line's user (--token-user) and its token's secret."""
    return {"setup_password": secrets.token_urlsafe(15), "setup_token_secret": new_token_secret()}


def new_token_secret() -> str:
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

    def _sign(self, text: str) -> str:
        return base64.b64encode(hmac.new(self._key, text.encode(), hashlib.sha256).digest()).decode()

    def ticket(self, user: str, now: Optional[float] = None) -> str:
        plain = f"PVE:{user}:{int(now if now is not None else time.time()):08X}"
        return f"{plain}::{self._sign(plain)}"

    def csrf_token(self, user: str, now: Optional[float] = None) -> str:
        stamp = f"{int(now if now is not None else time.time()):08X}"
        return f"{stamp}:{self._sign(stamp + ':' + user)}"

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

    def check_token(self, value: str, access: AccessConfig) -> Optional[str]:
        """`USER@REALM!TOKENID=SECRET` (up to any `;`), split at the last `=` (§2.2): the full token
        id if the token exists, its user is enabled, neither has expired and the secret matches
        (AccessControl.pm verify_token), else None."""
        token_id, sep, secret = value.split(";", 1)[0].strip().rpartition("=")
        if not sep or not access.verify_token(token_id, secret):
            return None
        return token_id

    def login(self, access: AccessConfig, params: dict) -> Optional[dict]:
        """POST /access/ticket (API2/AccessControl.pm create_ticket): the answer data, or None for
        "authentication failure". The realm, if given, is appended to the user name. A valid
        ticket is accepted as password: of the same user, or of root@pam, which may make tickets
        for anyone. With `path` and `privs` the call only verifies the password (or a ticket of
        that user) and that the user has every one of `privs` on `path`; it makes no ticket."""
        username = str(params.get("username") or "")
        if params.get("realm"):
            username = f"{username}@{params['realm']}"
        password = str(params.get("password") or "")
        if not access.user_enabled(username):  # test if user exists and is enabled
            return None
        ticket_user = self.check_ticket(password)
        if perl_true(params.get("path")) and perl_true(params.get("privs")):
            if ticket_user != username and not access.verify_password(username, password):
                return None
            path = normalize_path(params["path"])
            privs = split_list(str(params["privs"]))
            if path is None or not privs or not access.check(username, path, privs, noerr=True):
                return None
            return {"username": username}
        if ticket_user not in (ROOT, username) and not access.verify_password(username, password):
            return None
        return {"username": username, "ticket": self.ticket(username), "CSRFPreventionToken": self.csrf_token(username)}


def _fresh(stamp: str) -> bool:
    try:
        age = time.time() - int(stamp, 16)
    except ValueError:
        return False
    return -CLOCK_GRACE <= age <= TICKET_LIFETIME
