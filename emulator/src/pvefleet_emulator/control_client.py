"""A small client of the control API, for tests (standard library only)."""
from __future__ import annotations

import json
import ssl
import urllib.request
from typing import Any, Optional


class EmulatorControl:
    def __init__(self, base_url: str, ca_path: str):
        self.base_url = base_url.rstrip("/")
        self.context = ssl.create_default_context(cafile=ca_path)

    def _call(self, method: str, path: str, body: Optional[dict] = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=self.context, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def state(self) -> dict:
        return self._call("GET", "/state")

    def faults(self, **spec: Any) -> dict:
        return self._call("POST", "/faults", spec)

    def fail(self, method: str, path: str, **rule: Any) -> dict:
        return self.faults(fail={"method": method, "path": path, **rule})

    def clear_faults(self) -> dict:
        return self._call("DELETE", "/faults")

    def hold_lock(self) -> str:
        return self._call("POST", "/lock")["token"]

    def reset(self) -> dict:
        return self._call("POST", "/reset")
