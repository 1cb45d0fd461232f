#!/usr/bin/python
# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: sdn_ipam
short_description: Manage an SDN IPAM plugin of a Proxmox VE remote
version_added: 1.2.0
description:
  - Creates, updates or deletes one IPAM plugin of a Proxmox VE remote's SDN (C(/cluster/sdn/ipams)), the built-in
    C(pve) IPAM, a NetBox or a phpIPAM server.
  - Zones name their IPAM in O(pvefleet.sdn.sdn_zone#module:ipam); in a transaction IPAM plugins are written before
    every other kind and removed after them.
author:
  - pvefleet developers (@pvefleet)
options:
  state:
    description: Whether the IPAM plugin should exist.
    type: str
    choices: [present, absent]
    default: present
  purge:
    description: Remove the plugin's options that are not given.
    type: bool
    default: false
  ipam:
    description: ID of the IPAM plugin, at least 2 characters, a letter first, then letters or digits.
    type: str
    required: true
  type:
    description: The IPAM type. Required to create a plugin; cannot be changed.
    type: str
    choices: [netbox, phpipam, pve]
  url:
    description: The API URL of the NetBox or phpIPAM server, such as C(https://netbox.example.com/api). Required for those.
    type: str
  token:
    description: The API token of the NetBox or phpIPAM server. Required for those. Never shown (C(no_log)).
    type: str
  section:
    description: The phpIPAM section ID the subnets go in. Required for C(phpipam).
    type: int
  fingerprint:
    description: The SHA-256 fingerprint of the server's certificate (32 hex bytes separated by C(:)), to trust it without a CA.
    type: str
extends_documentation_fragment:
  - pvefleet.sdn.connection
  - pvefleet.sdn.lock
  - pvefleet.sdn.attributes
  - pvefleet.sdn.attributes.idempotent
notes:
  - Proxmox VE writes C(ipams.cfg) at once, not into the pending SDN configuration; it takes the SDN lock's token,
    but C(POST /cluster/sdn/rollback) does not undo it. Inside a transaction (M(pvefleet.sdn.sdn_lock), or
    M(pvefleet.sdn.sdn_transaction)) the collection records how to undo each such write before sending it, and
    when the transaction rolls back it undoes them itself, newest first, while it still holds the lock (a created
    plugin is deleted, an updated one gets its old options back, a deleted one is created again). The rollback's
    result lists them under C(unwind.undone). These are compensating writes, not PVE's rollback.
  - Secrets - Proxmox VE stores O(token) in C(ipams.cfg) as given and returns it to anyone who may read or list the
    plugin (C(SDN.Audit)), so a change of O(token) is detected like any other option and C(changed) is honest. The
    value is C(no_log) in this module, never shown in results or diffs, and kept (to undo a change) only in the
    transaction's record on the controller, a file of mode 0600.
  - Proxmox VE does not check that a zone uses the plugin before deleting it; M(pvefleet.sdn.sdn_fleet_info) and
    M(pvefleet.sdn.sdn_info) show which zones name it.
  - The collection and its emulator never contact the NetBox or phpIPAM server; Proxmox VE does, when subnets and
    guests' IPs are registered.
  - Privileges - C(SDN.Audit) on C(/sdn/ipams/<ipam>) to read the plugin; C(SDN.Allocate) on C(/sdn/ipams) to create,
    change or remove it. See R(Least privilege,ansible_collections.pvefleet.sdn.docsite.privileges).
seealso:
  - module: pvefleet.sdn.sdn_dns
  - module: pvefleet.sdn.sdn_vnet_ip
  - module: pvefleet.sdn.sdn_zone
"""

EXAMPLES = r"""
- name: A NetBox IPAM, its token from the vault
  pvefleet.sdn.sdn_ipam:
    ipam: netbox
    type: netbox
    url: https://netbox.example.com/api
    token: "{{ vault_netbox_token }}"

- name: The built-in IPAM
  pvefleet.sdn.sdn_ipam:
    ipam: pve
    type: pve
"""

RETURN = r"""
action:
  description: What was done, or would be done in check mode (C(create), C(update), C(delete) or C(none)).
  returned: always
  type: str
  sample: update
kind:
  description: The kind of SDN object.
  returned: always
  type: str
  sample: ipam
id:
  description: The Proxmox VE ID of the plugin.
  returned: always
  type: str
  sample: netbox
diff:
  description:
    - The plugin before and after, as module options (shown with C(--diff)).
    - A secret is shown as C((secret)), and as C((secret, changed)) on the after side when it changes; its value never.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: The options before the change; empty when it did not exist.
      type: dict
      returned: always
    after:
      description: The options after the change; empty when it was deleted.
      type: dict
      returned: always
"""

from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import object_argument_spec  # noqa: E402
from ansible_collections.pvefleet.sdn.plugins.module_utils._module import run_object_module  # noqa: E402

ARGUMENT_SPEC = object_argument_spec("ipam")


def main() -> None:
    run_object_module("ipam")


if __name__ == "__main__":
    main()
