#!/usr/bin/python
# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: sdn_zone
short_description: Manage an SDN zone of a Proxmox VE remote
version_added: 1.0.0
description:
  - Creates, updates or deletes one SDN zone in the pending SDN configuration of a Proxmox VE remote.
  - The change takes effect with M(pvefleet.sdn.sdn_apply). Inside a transaction opened by M(pvefleet.sdn.sdn_lock)
    the lock token is sent with the write; without one the write is made unlocked, as Proxmox VE allows while nobody
    holds the lock.
  - Only the options given are compared and changed; set O(purge=true) to remove the options that are not given.
  - Options are checked against the rules of the zone type before anything is sent.
author:
  - pvefleet developers (@pvefleet)
options:
  zone:
    description: ID of the zone, 2 to 8 characters, a letter then letters or digits.
    type: str
    required: true
  type:
    description:
      - The zone type. Required to create a zone; cannot be changed (delete the zone and create it again).
    type: str
    choices: [evpn, faucet, qinq, simple, vlan, vxlan]
  state:
    description: Whether the zone should exist in the pending configuration.
    type: str
    choices: [present, absent]
    default: present
  purge:
    description: Remove the zone's options that are not given (other than those Proxmox VE generates, such as an EVPN zone's C(mac)).
    type: bool
    default: false
  nodes:
    description: Restrict the zone to these cluster nodes (all nodes when not set).
    type: list
    elements: str
  ipam:
    description: ID of the IPAM to use, for example C(pve).
    type: str
  dns:
    description: ID of the DNS server definition.
    type: str
  reversedns:
    description: ID of the reverse DNS server definition.
    type: str
  dnszone:
    description: DNS domain of the zone; needs O(dns).
    type: str
  mtu:
    description: MTU of the zone's vnets. Not for C(faucet) zones.
    type: int
  dhcp:
    description: DHCP server for the zone's subnets. C(simple) zones only.
    type: str
    choices: [dnsmasq]
  bridge:
    description: The Linux bridge or OVS bridge the zone uses. Required for C(vlan) and C(qinq) zones.
    type: str
  bridge_disable_mac_learning:
    description: Disable MAC learning on the bridge. C(vlan), C(qinq) and C(evpn) zones.
    type: bool
  tag:
    description: The service VLAN tag. Required for C(qinq) zones.
    type: int
  vlan_protocol:
    description: The service VLAN protocol of a C(qinq) zone (Proxmox VE uses C(802.1q) when not set).
    type: str
    choices: ["802.1q", "802.1ad"]
  peers:
    description: IP addresses of the VXLAN peers. C(vxlan) zones need exactly one of O(peers) and O(fabric).
    type: list
    elements: str
  fabric:
    description: ID of the SDN fabric that carries a C(vxlan) zone.
    type: str
  vxlan_port:
    description: UDP port of VXLAN, 1 to 65536 (Proxmox VE uses 4789 when not set). C(vxlan) and C(evpn) zones.
    type: int
  controller:
    description:
      - The controller of the zone. Required for C(evpn) zones (an existing controller of type C(evpn)) and C(faucet) zones.
    type: str
  vrf_vxlan:
    description: The VNI of the zone's VRF, 1 to 16777215, unique across zones. Required for C(evpn) zones.
    type: int
  mac:
    description: Anycast MAC address of the zone's gateways. C(evpn) zones; Proxmox VE generates one when not set.
    type: str
  exitnodes:
    description: Nodes that route the zone's traffic to the outside. C(evpn) zones.
    type: list
    elements: str
  exitnodes_primary:
    description: The exit node to prefer. C(evpn) zones.
    type: str
  exitnodes_local_routing:
    description: Let the exit nodes reach the zone's VMs themselves. C(evpn) zones.
    type: bool
  advertise_subnets:
    description: Announce the zone's full subnets in EVPN. C(evpn) zones.
    type: bool
  disable_arp_nd_suppression:
    description: Turn off ARP and ND suppression. C(evpn) zones.
    type: bool
  rt_import:
    description: Route targets to import, each C(ASN:NN). C(evpn) zones.
    type: list
    elements: str
  dp_id:
    description: The datapath ID of a C(faucet) zone. Required for C(faucet) zones.
    type: int
  secondary_controllers:
    description:
      - Further C(evpn) controllers the zone is also announced through (Proxmox VE 9.2 or newer). C(evpn) zones.
      - A transaction's preflight refuses it for a remote on an older release.
    type: list
    elements: str
    version_added: 1.1.0
extends_documentation_fragment:
  - pvefleet.sdn.connection
  - pvefleet.sdn.lock
  - pvefleet.sdn.attributes
  - pvefleet.sdn.attributes.idempotent
notes:
  - Privileges - C(SDN.Audit) or C(SDN.Allocate) on C(/sdn/zones/<zone>) to read the zone; C(SDN.Allocate) on C(/sdn/zones) to create it
    and on C(/sdn/zones/<zone>) to change or remove it. See the collection's guide,
    R(Least privilege,ansible_collections.pvefleet.sdn.docsite.privileges) (docs/docsite/rst/privileges.rst), for a
    least-privilege role and tokens.
seealso:
  - module: pvefleet.sdn.sdn_lock
  - module: pvefleet.sdn.sdn_apply
  - module: pvefleet.sdn.sdn_vnet
"""

EXAMPLES = r"""
- name: A VLAN zone on bridge vmbr0
  pvefleet.sdn.sdn_zone:
    zone: office
    type: vlan
    bridge: vmbr0
    mtu: 1500

- name: An EVPN zone (its controller must exist in the pending configuration)
  pvefleet.sdn.sdn_zone:
    zone: evpn1
    type: evpn
    controller: evpnctl
    vrf_vxlan: 10000
    exitnodes: [pve1, pve2]
    advertise_subnets: true

- name: Remove a zone (its vnets must be gone first)
  pvefleet.sdn.sdn_zone:
    zone: office
    state: absent
"""

RETURN = r"""
action:
  description: What was done, or would be done in check mode.
  returned: always
  type: str
  sample: create
kind:
  description: The kind of SDN object.
  returned: always
  type: str
  sample: zone
id:
  description: The ID of the zone.
  returned: always
  type: str
  sample: evpn1
diff:
  description: The zone before and after, as module options (shown with C(--diff)).
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: The zone's options before the change; empty when it did not exist.
      type: dict
      returned: always
    after:
      description: The zone's options after the change; empty when it was deleted.
      type: dict
      returned: always
"""

from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import object_argument_spec  # noqa: E402
from ansible_collections.pvefleet.sdn.plugins.module_utils._module import run_object_module  # noqa: E402

ARGUMENT_SPEC = object_argument_spec("zone")


def main() -> None:
    run_object_module("zone")


if __name__ == "__main__":
    main()
