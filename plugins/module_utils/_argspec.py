# Private to pvefleet.sdn: not a public API.
"""Argument specs shared by the modules, the action plugins and the doc-fragment tests.

One dict per concern, each mirrored by a doc fragment (plugins/doc_fragments/).
"""
from __future__ import annotations

from ansible.module_utils.basic import env_fallback

# How to reach one remote. Environment names follow the community Proxmox modules.
CONNECTION = dict(
    api_host=dict(type="str", fallback=(env_fallback, ["PROXMOX_HOST"])),
    api_port=dict(type="int", fallback=(env_fallback, ["PROXMOX_PORT"])),
    api_user=dict(type="str", fallback=(env_fallback, ["PROXMOX_USER"])),
    api_password=dict(type="str", no_log=True, fallback=(env_fallback, ["PROXMOX_PASSWORD"])),
    api_token_id=dict(type="str", no_log=False, fallback=(env_fallback, ["PROXMOX_TOKEN_ID"])),
    api_token_secret=dict(type="str", no_log=True, fallback=(env_fallback, ["PROXMOX_TOKEN_SECRET"])),
    validate_certs=dict(type="bool", fallback=(env_fallback, ["PROXMOX_VALIDATE_CERTS"])),
    ca_path=dict(type="path", fallback=(env_fallback, ["PROXMOX_CA_PATH"])),
    fingerprint=dict(type="str", no_log=False),
    api_timeout=dict(type="float"),
)

# Defaults applied after host variables had their say (see plugin_utils/_action.py): a spec
# default would hide the host variable.
CONNECTION_DEFAULTS = dict(api_port=8006, validate_certs=True, api_timeout=30.0)

# The lock token of a transaction; the action plugins fill it in from the journal.
LOCK_TOKEN = dict(
    lock_token=dict(type="str", no_log=True),
)

# Where the controller keeps the record of a transaction.
JOURNAL = dict(
    transaction=dict(type="str", default="default"),
    journal_dir=dict(type="path", fallback=(env_fallback, ["PVEFLEET_SDN_JOURNAL_DIR"])),
)

STATE_PRESENT_ABSENT = dict(
    state=dict(type="str", default="present", choices=["present", "absent"]),
)


def merge(*specs: dict) -> dict:
    """One argument spec out of several, without sharing the inner dicts."""
    merged: dict = {}
    for spec in specs:
        for name, option in spec.items():
            merged[name] = dict(option)
    return merged
