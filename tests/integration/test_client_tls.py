"""TLS against a real HTTPS remote (the emulator): verification, CA file, pinning before any byte."""
from __future__ import annotations

import asyncio

import pytest

from ansible_collections.pvefleet.sdn.plugins.module_utils._client import PveClient
from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import AuthenticationError, TlsError


def settings(remote, **tls) -> ConnectionSettings:
    return ConnectionSettings.from_params({"api_host": remote.host, "api_port": remote.port, "api_user": "root@pam",
                                           "api_token_id": "fleet", "api_token_secret": remote.token_secret, **tls})


def version(remote, **tls):
    async def go():
        async with PveClient(settings(remote, **tls)) as client:
            return await client.get("/version")
    return asyncio.run(go())


def test_verified_with_the_ca_file(remotes):
    assert version(remotes[0], ca_path=remotes[0].ca_path)["release"]


def test_refused_without_a_trusted_ca(remotes):
    with pytest.raises(TlsError, match="TLS verification failed") as refused:
        version(remotes[0])
    assert "not signed by a CA this controller trusts" in str(refused.value) and "give ca_path" in str(refused.value)


def test_a_wrong_ca_gets_its_own_advice(remotes):
    # Another remote's certificate as the CA: a CA was given, and it is the wrong one.
    with pytest.raises(TlsError) as refused:
        version(remotes[0], ca_path=remotes[1].ca_path)
    assert f"not signed by a CA in ca_path ({remotes[1].ca_path})" in str(refused.value)
    assert "fingerprint" in str(refused.value)


def test_pinned_fingerprint(remotes):
    fingerprint = remotes[0].vars["pvefleet_sdn_fingerprint"]
    assert version(remotes[0], fingerprint=fingerprint)["release"]
    assert version(remotes[0], fingerprint=fingerprint.replace(":", "").lower())["release"]


def test_wrong_pin_sends_no_request(remotes):
    remotes[0].control.fail("*", ".", times=None, status=599, message="counted")
    with pytest.raises(TlsError, match="does not match the pinned fingerprint"):
        version(remotes[0], fingerprint="AB" * 32)
    assert remotes[0].control.state()["faults"]["rules"][0]["seen"] == 0


def test_unverified_is_an_explicit_choice(remotes):
    assert version(remotes[0], validate_certs=False)["release"]


def test_a_refused_token_is_an_authentication_error(remotes):
    """PVE's 401 has no body and no Content-Length (the body ends with the connection): it is an
    answer, reported as refused credentials, not as a lost connection."""
    with pytest.raises(AuthenticationError) as raised:
        version(remotes[0], ca_path=remotes[0].ca_path, api_token_secret="not-the-secret")
    assert raised.value.status == 401 and "Authentication failed" in str(raised.value)
    assert "check api_user, api_token_id and api_token_secret: the token root@pam!fleet must exist" in str(raised.value)
    assert "not-the-secret" not in str(raised.value)
