# Private to pvefleet.sdn: not a public API.
"""How to reach one remote: address, credentials and TLS policy, checked before any request."""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput

_USER = re.compile(r"^[^\s@!:]+@[A-Za-z][A-Za-z0-9.\-_]*$")
_TOKEN_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9.\-_]+$")
_HEX = re.compile(r"^[0-9a-f]{64}$")


def normalise_fingerprint(value: str) -> str:
    """`AA:BB:...` (as PVE shows it) or plain hex, any case -> 64 lowercase hex digits."""
    digits = re.sub(r"[\s:]", "", value or "").lower()
    if not _HEX.match(digits):
        raise InvalidInput({"fingerprint": "must be a SHA-256 fingerprint: 32 bytes in hex, "
                                           f"with or without colons (got {value!r})"})
    return digits


@dataclasses.dataclass(frozen=True)
class ConnectionSettings:
    api_host: str
    api_user: str
    api_port: int = 8006
    api_password: Optional[str] = dataclasses.field(default=None, repr=False)
    api_token_id: Optional[str] = None
    api_token_secret: Optional[str] = dataclasses.field(default=None, repr=False)
    validate_certs: bool = True
    ca_path: Optional[str] = None
    fingerprint: Optional[str] = None
    timeout: float = 30.0
    remote: str = ""

    def __post_init__(self) -> None:
        if not self.remote:
            object.__setattr__(self, "remote", f"{self.api_host}:{self.api_port}")

    def public_fields(self) -> dict:
        """What a record may keep to find the remote again: everything but the secrets."""
        return {"api_host": self.api_host, "api_port": self.api_port, "api_user": self.api_user,
                "api_token_id": self.api_token_id, "ca_path": self.ca_path, "fingerprint": self.fingerprint,
                "validate_certs": self.validate_certs}

    @property
    def uses_token(self) -> bool:
        return self.api_token_id is not None

    @classmethod
    def from_params(cls, params: dict[str, Any], remote: str = "") -> ConnectionSettings:
        """From the collection's option names; every problem is reported with its option."""
        errors: dict[str, str] = {}
        host, user = params.get("api_host"), params.get("api_user")
        if not host:
            errors["api_host"] = "is required (option, host variable pvefleet_sdn_api_host or PROXMOX_HOST)"
        if not user:
            errors["api_user"] = "is required, as user@realm (option, host variable pvefleet_sdn_api_user or PROXMOX_USER)"
        elif not _USER.match(user):
            errors["api_user"] = f"must be user@realm, such as root@pam (got {user!r})"
        token_id, secret, password = params.get("api_token_id"), params.get("api_token_secret"), params.get("api_password")
        for name, value in (("api_token_id", token_id), ("api_token_secret", secret), ("api_password", password)):
            if value is not None and not str(value).strip():
                # An unset variable templated to "": PVE would answer 401 without naming the option.
                errors[name] = "is empty; give its value, or leave the option out"
        if "api_token_id" in errors:
            pass
        elif token_id is not None and "!" in token_id:
            errors["api_token_id"] = "is the token's name only (fleet for root@pam!fleet); the user goes in api_user"
        elif token_id is not None and not _TOKEN_NAME.match(token_id):
            errors["api_token_id"] = f"must be a token name: a letter, then letters, digits, '.', '-' or '_' (got {token_id!r})"
        if (token_id is None) != (secret is None):
            errors["api_token_secret" if secret is None else "api_token_id"] = "api_token_id and api_token_secret go together"
        if token_id is None and secret is None and password is None:
            errors["api_password"] = "give api_password, or api_token_id with api_token_secret"
        if token_id is not None and password is not None:
            errors["api_password"] = "give either api_password or an API token, not both"
        port = params.get("api_port") or 8006
        try:
            port = int(port)
            if not 1 <= port <= 65535:
                raise ValueError
        except (TypeError, ValueError):
            errors["api_port"] = f"must be a TCP port, 1 to 65535 (got {params.get('api_port')!r})"
        fingerprint = None
        if params.get("fingerprint"):
            try:
                fingerprint = normalise_fingerprint(params["fingerprint"])
            except InvalidInput as exc:
                errors.update(exc.errors)
        timeout = params.get("api_timeout") or 30.0
        try:
            timeout = float(timeout)
            if timeout <= 0:
                raise ValueError
        except (TypeError, ValueError):
            errors["api_timeout"] = f"must be a positive number of seconds (got {params.get('api_timeout')!r})"
        if errors:
            raise InvalidInput(errors)
        validate = params.get("validate_certs")
        return cls(api_host=str(host), api_user=str(user), api_port=port, api_password=password,
                   api_token_id=token_id, api_token_secret=secret,
                   validate_certs=True if validate is None else bool(validate),
                   ca_path=params.get("ca_path") or None, fingerprint=fingerprint, timeout=timeout,
                   remote=remote)
