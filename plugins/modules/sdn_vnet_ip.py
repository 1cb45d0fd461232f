#!/usr/bin/python
# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: sdn_vnet_ip
short_description: Reserve an IP of a Proxmox VE SDN vnet in its zone's IPAM, for a MAC address
version_added: 1.2.0
description:
  - Makes one IP address of a vnet reserved in the IPAM of the vnet's zone (C(/cluster/sdn/vnets/<vnet>/ips)), for
    a MAC address or for none (O(state=present)), or frees it (O(state=absent)); with the zone's DHCP, a guest with
    that MAC gets that address.
  - Proxmox VE looks the address's subnet up in the running SDN configuration, so the vnet and the subnet must have
    been applied (M(pvefleet.sdn.sdn_apply)) first; otherwise the task fails before any write, saying so.
  - A zone without an IPAM is refused before any write (Proxmox VE would accept the mapping and keep nothing).
author:
  - pvefleet developers (@pvefleet)
options:
  vnet:
    description: The vnet, as it is in the running SDN configuration.
    type: str
    required: true
  zone:
    description: The vnet's zone; read from the vnet when not given. Given, it must be the vnet's zone.
    type: str
  ip:
    description: The IP address (IPv4 or IPv6, without a prefix length); it must be in one of the vnet's applied subnets.
    type: str
    required: true
  mac:
    description:
      - The MAC address the IP is for (unicast, such as C(bc:24:11:00:00:01); compared without regard to case).
      - Not given, the IP is reserved for whichever MAC it has, or for none when it is new.
    type: str
  state:
    description: Whether the IP should be reserved.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - pvefleet.sdn.connection
  - pvefleet.sdn.attributes
  - pvefleet.sdn.attributes.idempotent
notes:
  - Not covered by the SDN lock - Proxmox VE's C(/ips) endpoint takes no lock token, writes the IPAM at once and has
    no pending state, so no SDN rollback undoes it and a lock held by anyone does not stop it. In a transaction, map
    IPs after M(pvefleet.sdn.sdn_apply) (the subnet must be running anyway); M(pvefleet.sdn.sdn_transaction) does so
    itself (its O(pvefleet.sdn.sdn_transaction#module:vnet_ips)).
  - How C(changed) is decided - Proxmox VE has no API to read one mapping; the module reads the C(pve) IPAM's
    entries (C(GET /cluster/sdn/ipams/pve/status)), which Proxmox VE lists only for zones with C(dhcp). In such a
    zone the entry is compared (the result's RV(verified) is V(true)) - the same IP for the same MAC changes
    nothing, for another MAC it is freed and reserved again. In other zones (an external IPAM such as NetBox or
    phpIPAM, or no DHCP) nothing can be read - the module sends the write and takes Proxmox VE's answer, an
    C(already exist) or C(does not exist) error meaning no change; it warns that the MAC of an existing entry was not
    compared, and in check mode it reports the write it would send.
  - Privileges - C(SDN.Audit) on C(/sdn/zones/<zone>/<vnet>) to read the vnet and the IPAM's entries, C(SDN.Allocate)
    there to map an IP. See R(Least privilege,ansible_collections.pvefleet.sdn.docsite.privileges).
seealso:
  - module: pvefleet.sdn.sdn_ipam
  - module: pvefleet.sdn.sdn_subnet
"""

EXAMPLES = r"""
- name: The web server's address, for its MAC
  pvefleet.sdn.sdn_vnet_ip:
    vnet: tenant1
    ip: 10.10.0.20
    mac: "bc:24:11:00:00:20"

- name: Free an address
  pvefleet.sdn.sdn_vnet_ip:
    vnet: tenant1
    ip: 10.10.0.21
    state: absent
"""

RETURN = r"""
action:
  description: What was done, or would be done in check mode (C(create), C(update), C(delete) or C(none)).
  returned: always
  type: str
  sample: create
vnet:
  description: The vnet.
  returned: always
  type: str
  sample: tenant1
zone:
  description: The vnet's zone.
  returned: always
  type: str
  sample: tenants
ip:
  description: The address, as Proxmox VE writes it.
  returned: always
  type: str
  sample: 10.10.0.20
ipam:
  description: The IPAM of the zone.
  returned: always
  type: str
  sample: pve
verified:
  description: Whether the IPAM's entry could be read and compared (see the notes); V(false) means Proxmox VE's answer decided.
  returned: always
  type: bool
  sample: true
diff:
  description: The mapping before and after (shown with C(--diff)); C(before) is empty when none could be read.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: The IP and its MAC before; empty when it was not reserved (or could not be read).
      type: dict
      returned: always
    after:
      description: The IP and its MAC after; empty when it was freed.
      type: dict
      returned: always
"""

from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import CONNECTION, VNET_IP_OPTIONS, merge  # noqa: E402
from ansible_collections.pvefleet.sdn.plugins.module_utils._module import run_module  # noqa: E402

ARGUMENT_SPEC = merge(CONNECTION, VNET_IP_OPTIONS)


def main() -> None:
    from ansible_collections.pvefleet.sdn.plugins.module_utils._vnet_ip_task import run_vnet_ip_task

    run_module(ARGUMENT_SPEC, run_vnet_ip_task)


if __name__ == "__main__":
    main()
