#!/usr/bin/python
# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: sdn_subnet
short_description: Manage a subnet of an SDN vnet of a Proxmox VE remote
version_added: 1.0.0
description:
  - Creates, updates or deletes one subnet of a vnet in the pending SDN configuration of a Proxmox VE remote.
  - Proxmox VE names the subnet C(<zone>-<network>-<prefixlen>) (for example C(evpn1-10.10.0.0-24)) after the zone of its vnet;
    the vnet is read first to find it.
  - If the vnet's zone uses an IPAM, Proxmox VE registers the subnet in it at once; a rollback does not undo that.
author:
  - pvefleet developers (@pvefleet)
options:
  state:
    description: Whether the subnet should exist in the pending configuration.
    type: str
    choices: [present, absent]
    default: present
  purge:
    description: Remove the subnet's options that are not given.
    type: bool
    default: false
  vnet:
    description: The vnet of the subnet; it must exist and must not be VLAN-aware.
    type: str
    required: true
  subnet:
    description: The subnet as a CIDR network, such as C(10.10.0.0/24) or C(fd00:10::/64), without host bits.
    type: str
    required: true
  gateway:
    description: The gateway address; it must lie inside the subnet (except for an IPv4 /32).
    type: str
  snat:
    description: Masquerade traffic from the subnet to the outside.
    type: bool
  dnszoneprefix:
    description: A DNS domain prefix for the subnet's hosts.
    type: str
  dhcp_range:
    description: Address ranges for DHCP; each inside the subnet, start not after end, no overlaps.
    type: list
    elements: dict
    suboptions:
      start_address:
        description: First address of the range.
        type: str
        required: true
      end_address:
        description: Last address of the range.
        type: str
        required: true
  dhcp_dns_server:
    description: The DNS server the DHCP server hands out.
    type: str
extends_documentation_fragment:
  - pvefleet.sdn.connection
  - pvefleet.sdn.lock
  - pvefleet.sdn.attributes
  - pvefleet.sdn.attributes.idempotent
notes:
  - Privileges - C(SDN.Audit) or C(SDN.Allocate) on C(/sdn/zones/<zone>/<vnet>) to read the subnet and its vnet; C(SDN.Allocate) there to
    create, change or remove it. See the collection's guide,
    R(Least privilege,ansible_collections.pvefleet.sdn.docsite.privileges) (docs/docsite/rst/privileges.rst), for a
    least-privilege role and tokens.
seealso:
  - module: pvefleet.sdn.sdn_lock
  - module: pvefleet.sdn.sdn_apply
"""

EXAMPLES = r"""
- name: A subnet with a gateway and a DHCP range
  pvefleet.sdn.sdn_subnet:
    vnet: vnet1
    subnet: 10.10.0.0/24
    gateway: 10.10.0.1
    snat: true
    dhcp_range:
      - start_address: 10.10.0.100
        end_address: 10.10.0.200
"""

RETURN = r"""
action:
  description: What was done, or would be done in check mode (C(create), C(update), C(delete) or C(none)).
  returned: always
  type: str
  sample: create
kind:
  description: The kind of SDN object.
  returned: always
  type: str
  sample: subnet
id:
  description: The Proxmox VE ID of the subnet.
  returned: always
  type: str
  sample: evpn1-10.10.0.0-24
diff:
  description: The subnet before and after, as module options (shown with C(--diff)).
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

ARGUMENT_SPEC = object_argument_spec("subnet")


def main() -> None:
    run_object_module("subnet")


if __name__ == "__main__":
    main()
