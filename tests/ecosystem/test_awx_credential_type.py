"""The AWX credential type (docs/awx/credential_type.yml): valid for AWX, injecting only what the
collection reads (its argument spec and action plugin edge are imported, so renamed options or
environment variables break this test), with the precedence a fleet needs, and a job run with it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from ecosystem_support import REPO, CredentialType, awx_inject, awx_validate, clean_os_environ, job_env, run_job

from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import CONNECTION, JOURNAL
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._host_settings import HOSTVAR_PREFIX, HostSettings

pytestmark = pytest.mark.ecosystem

CREDENTIAL_TYPE = CredentialType(REPO / "docs" / "awx" / "credential_type.yml")
# Environment variable -> the option it stands in for, as the collection reads them.
ENV_OPTIONS = {variable: option for spec in (CONNECTION, JOURNAL) for option, settings in spec.items()
               for variable in (settings["fallback"][1] if "fallback" in settings else [])}
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB...EXAMPLE\n-----END CERTIFICATE-----\n"
FULL = {"api_host": "pve.example.com", "api_port": "8443", "api_user": "automation@pve", "api_token_id": "fleet",
        "api_token_secret": "5f0c4f6e-7a3b-4c3e-9d1e-2b8f9e1a6c42", "ca_cert": CA_PEM}
MINIMAL = {"api_user": "automation@pve", "api_token_id": "fleet", "api_token_secret": FULL["api_token_secret"]}


def test_credential_type_is_valid_for_awx():
    awx_validate(CREDENTIAL_TYPE.data)
    assert CREDENTIAL_TYPE.data["name"] and CREDENTIAL_TYPE.data["description"]


def test_every_injected_variable_is_one_the_collection_reads(tmp_path):
    injectors = CREDENTIAL_TYPE.data["injectors"]
    unknown = set(injectors.get("env", {})) - set(ENV_OPTIONS)
    assert not unknown, f"the collection reads no such environment variable: {unknown}"
    for name in injectors.get("extra_vars", {}):
        assert name.startswith(HOSTVAR_PREFIX) and name.removeprefix(HOSTVAR_PREFIX) in CONNECTION, name

    # Each variable carries the input of the same name as the option it stands in for (a path
    # option: a file with that input's content); a secret option only from a secret input.
    markers = {name: f"marker-{name}" for name in CREDENTIAL_TYPE.fields}
    env, extra_vars = awx_inject(CREDENTIAL_TYPE.data, markers, tmp_path)
    assert extra_vars == {}, "extra vars would override every remote's own host variables"
    fed_by = {}
    for variable, value in env.items():
        option = ENV_OPTIONS[variable]
        if CONNECTION.get(option, {}).get("type") == "path":
            value = Path(value).read_text()
        (source,) = [name for name, marker in markers.items() if marker == value]
        fed_by[option] = source
    for option, source in fed_by.items():
        if CONNECTION[option].get("type") != "path":
            assert source == option, (option, source)
        secret_option = bool(CONNECTION[option].get("no_log"))
        assert bool(CREDENTIAL_TYPE.fields[source].get("secret")) == secret_option, source
    assert set(fed_by) == {"api_host", "api_port", "api_user", "api_token_id", "api_token_secret", "ca_path"}
    # A credential never turns certificate checks off (a boolean left out is injected as false).
    assert "validate_certs" not in fed_by and set(CREDENTIAL_TYPE.data["inputs"]["required"]) == set(MINIMAL)


def settings_for(host_vars: dict, host: str = "east"):
    """The connection settings the collection's action plugins build for `host` with these host
    variables and the current environment."""
    task_vars = {"inventory_hostname": host, **host_vars, "hostvars": {host: host_vars}}
    return HostSettings(action=None, args={}, task_vars=task_vars).for_host(host)


def inject(monkeypatch, tmp_path, inputs: dict) -> None:
    clean_os_environ(monkeypatch, checkout_leak=False)
    env = awx_inject(CREDENTIAL_TYPE.data, inputs, tmp_path)[0]
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_credential_alone_reaches_a_remote(monkeypatch, tmp_path):
    inject(monkeypatch, tmp_path, FULL)
    settings = settings_for({})
    assert (settings.api_host, settings.api_port, settings.api_user) == ("pve.example.com", 8443, "automation@pve")
    assert (settings.api_token_id, settings.api_token_secret) == ("fleet", FULL["api_token_secret"])
    assert Path(settings.ca_path).read_text() == CA_PEM and settings.validate_certs is True
    assert settings.fingerprint is None


def test_inventory_wins_over_the_credential(monkeypatch, tmp_path):
    """A fleet: each remote's inventory entry names its host, port and certificate; the credential
    fills in only what the entry leaves out."""
    inject(monkeypatch, tmp_path, FULL)
    fingerprint = ":".join(["AB"] * 32)
    settings = settings_for({"pvefleet_sdn_api_host": "pve-east.example.com", "pvefleet_sdn_api_port": 8006,
                             "pvefleet_sdn_fingerprint": fingerprint, "pvefleet_sdn_api_token_secret": "own-secret"})
    assert (settings.api_host, settings.api_port) == ("pve-east.example.com", 8006)
    assert settings.fingerprint == "ab" * 32 and settings.api_token_secret == "own-secret"
    assert (settings.api_user, settings.api_token_id) == ("automation@pve", "fleet")


def test_optional_inputs_left_empty_inject_nothing_harmful(monkeypatch, tmp_path):
    inject(monkeypatch, tmp_path, {**MINIMAL, "api_host": "", "api_port": "", "ca_cert": ""})
    settings = settings_for({"pvefleet_sdn_api_host": "pve-west.example.com"})
    assert (settings.api_host, settings.api_port) == ("pve-west.example.com", 8006)
    assert settings.ca_path is None and settings.validate_certs is True


def test_job_with_only_the_credential_applies(collection, emulator, remotes, tmp_path, monkeypatch):
    """A job as AWX runs it with this credential attached: the inventory has no connection
    variables at all; the credential's environment variables and CA file do it all."""
    clean_os_environ(monkeypatch)
    remote = remotes[0]
    inputs = {"api_host": remote.host, "api_port": str(remote.port), "api_user": remote.vars["pvefleet_sdn_api_user"],
              "api_token_id": remote.vars["pvefleet_sdn_api_token_id"], "api_token_secret": remote.token_secret,
              "ca_cert": Path(remote.ca_path).read_text()}
    env, extra_vars = awx_inject(CREDENTIAL_TYPE.data, inputs, tmp_path / "private")
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"remotes": {"hosts": {remote.name: {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}}}}))
    job = run_job(tmp_path, "pvefleet.sdn.evpn_zone_vnet", inventory, {**job_env(collection, tmp_path), **env},
                  extravars={**extra_vars, "evpn_peers": ["10.0.0.1", "10.0.0.2"]})
    assert (job.status, job.rc) == ("successful", 0), job.stdout
    (applied,) = job.of("runner_on_ok", "Apply everywhere and wait for every node")
    assert applied["host"] == remote.name and applied["res"]["applied"] is True
    state = remote.control.state()
    assert "evpn1" in state["running"]["zones"] and "vnet1" in state["running"]["vnets"]
    assert not state["lock"]["held"] and not state["has_pending_changes"]
    assert all(r.control.state()["running"]["zones"] == {} for r in remotes[1:])
    recorded = job.everything_recorded()
    assert remote.token_secret not in recorded and "PROXMOX_TOKEN_SECRET" not in json.dumps(job.events)
