#!/usr/bin/python
# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: sdn_dns
short_description: Manage an SDN DNS plugin of a Proxmox VE remote
version_added: 1.2.0
description:
  - Creates, updates or deletes one DNS plugin of a Proxmox VE remote's SDN (C(/cluster/sdn/dns)), a PowerDNS server
    that Proxmox VE registers guests' names in.
  - Zones name it in O(pvefleet.sdn.sdn_zone#module:dns) and O(pvefleet.sdn.sdn_zone#module:reversedns); in a
    transaction DNS plugins are written before every other kind but IPAM plugins, and removed after them.
author:
  - pvefleet developers (@pvefleet)
options:
  state:
    description: Whether the DNS plugin should exist.
    type: str
    choices: [present, absent]
    default: present
  purge:
    description: Remove the plugin's options that are not given.
    type: bool
    default: false
  dns:
    description: ID of the DNS plugin, at least 2 characters, a letter first, then letters or digits.
    type: str
    required: true
  type:
    description: The DNS plugin type; C(powerdns) when not given (the only one Proxmox VE has). Cannot be changed.
    type: str
    choices: [powerdns]
  url:
    description: The PowerDNS API URL, such as C(http://192.0.2.10:8081/api/v1/servers/localhost). Required.
    type: str
  key:
    description: The PowerDNS API key. Required. Never shown (C(no_log)).
    type: str
  ttl:
    description: The TTL of the records Proxmox VE creates.
    type: int
  reversemaskv6:
    description: The netmask of the IPv6 reverse zone's name, when it is not the subnet's (0 to 128).
    type: int
  fingerprint:
    description: The SHA-256 fingerprint of the server's certificate (32 hex bytes separated by C(:)).
    type: str
extends_documentation_fragment:
  - pvefleet.sdn.connection
  - pvefleet.sdn.lock
  - pvefleet.sdn.attributes
  - pvefleet.sdn.attributes.idempotent
notes:
  - Proxmox VE writes C(dns.cfg) at once, not into the pending SDN configuration; it takes the SDN lock's token,
    but C(POST /cluster/sdn/rollback) does not undo it. Inside a transaction (M(pvefleet.sdn.sdn_lock), or
    M(pvefleet.sdn.sdn_transaction)) the collection records how to undo each such write before sending it, and
    when the transaction rolls back it undoes them itself, newest first, while it still holds the lock (a created
    plugin is deleted, an updated one gets its old options back, a deleted one is created again). The rollback's
    result lists them under C(unwind.undone). These are compensating writes, not PVE's rollback.
  - Secrets - Proxmox VE stores O(key) in C(dns.cfg) as given and returns it to anyone who may read or list the
    plugin (C(SDN.Audit)), so a change of O(key) is detected like any other option and C(changed) is honest. The
    value is C(no_log) in this module, never shown in results or diffs, and kept (to undo a change) only in the
    transaction's record on the controller, a file of mode 0600.
  - The collection and its emulator never contact the PowerDNS server.
  - Privileges - C(SDN.Audit) on C(/sdn/dns/<dns>) to read the plugin; C(SDN.Allocate) on C(/sdn/dns) to create,
    change or remove it. See R(Least privilege,ansible_collections.pvefleet.sdn.docsite.privileges).
seealso:
  - module: pvefleet.sdn.sdn_ipam
  - module: pvefleet.sdn.sdn_zone
"""

EXAMPLES = r"""
- name: PowerDNS for the guests' names
  pvefleet.sdn.sdn_dns:
    dns: powerdns
    url: http://192.0.2.10:8081/api/v1/servers/localhost
    key: "{{ vault_powerdns_key }}"
    ttl: 300
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
  sample: dns
id:
  description: The Proxmox VE ID of the plugin.
  returned: always
  type: str
  sample: powerdns
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

ARGUMENT_SPEC = object_argument_spec("dns")


def main() -> None:
    run_object_module("dns")


if __name__ == "__main__":
    main()
