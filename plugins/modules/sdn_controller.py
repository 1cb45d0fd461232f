#!/usr/bin/python
# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: sdn_controller
short_description: Manage an SDN controller of a Proxmox VE remote
version_added: 1.0.0
description:
  - Creates, updates or deletes one SDN controller (EVPN, BGP, IS-IS or faucet) in the pending SDN configuration of a
    Proxmox VE remote.
  - Before Proxmox VE 9.2 only one C(evpn) controller may exist per cluster; C(bgp) and C(isis) controllers are per
    node.
  - The options of Proxmox VE 9.2 (O(route_map_in), O(route_map_out), O(nodes), O(peer_group_name), O(bgp_mode)) are
    refused by older remotes; a transaction's preflight says so before any lock.
author:
  - pvefleet developers (@pvefleet)
options:
  state:
    description: Whether the controller should exist in the pending configuration.
    type: str
    choices: [present, absent]
    default: present
  purge:
    description: Remove the controller's options that are not given.
    type: bool
    default: false
  controller:
    description: ID of the controller, 2 to 64 characters, a letter first, then letters, digits, C(-) or C(_).
    type: str
    required: true
  type:
    description: The controller type. Required to create a controller; cannot be changed.
    type: str
    choices: [bgp, evpn, faucet, isis]
  asn:
    description: The autonomous system number, 0 to 4294967295. Required for C(evpn) and C(bgp).
    type: int
  peers:
    description:
      - The BGP peers' addresses. Required for C(bgp); C(evpn) needs exactly one of O(peers) and O(fabric).
    type: list
    elements: str
  fabric:
    description: The SDN fabric the C(evpn) controller peers over, instead of O(peers).
    type: str
  node:
    description: The node the C(bgp) or C(isis) controller runs on. Required for those.
    type: str
  ebgp:
    description: Use external BGP. C(bgp) only.
    type: bool
  ebgp_multihop:
    description: The eBGP multihop count. C(bgp), and C(evpn) from Proxmox VE 9.2.
    type: int
  loopback:
    description: The source loopback interface. C(bgp) and C(isis).
    type: str
  bgp_multipath_as_path_relax:
    description: Allow multipath across different AS paths. C(bgp) only.
    type: bool
  isis_domain:
    description: The IS-IS domain. Required for C(isis).
    type: str
  isis_net:
    description: The IS-IS network entity title, such as C(49.0001.1921.6800.1001.00). Required for C(isis).
    type: str
  isis_ifaces:
    description: The interfaces IS-IS runs on. Required for C(isis).
    type: list
    elements: str
  route_map_in:
    description:
      - The route map (M(pvefleet.sdn.sdn_route_map)) applied to the routes the controller receives. C(evpn) and
        C(bgp); Proxmox VE 9.2 or newer.
      - The route map must exist when the controller is written; in a transaction route maps are written before
        controllers (and removed after them).
    type: str
    version_added: 1.1.0
  route_map_out:
    description: The route map applied to the routes the controller announces. C(evpn) and C(bgp); Proxmox VE 9.2 or newer.
    type: str
    version_added: 1.1.0
  nodes:
    description: The nodes the C(evpn) controller runs on (all when not set). Proxmox VE 9.2 or newer.
    type: list
    elements: str
    version_added: 1.1.0
  peer_group_name:
    description:
      - The BGP peer group of the C(evpn) controller (Proxmox VE uses C(VTEP) when not set); Proxmox VE 9.2 or newer.
      - Since 9.2 a cluster may have several C(evpn) controllers, each with its own peer group; all those on one node
        must have the same O(asn).
    type: str
    version_added: 1.1.0
  bgp_mode:
    description:
      - iBGP (V(internal)) or eBGP (V(external)) for the C(evpn) controller; V(auto) (Proxmox VE's default) chooses
        from the node's C(bgp) controller, else iBGP. Proxmox VE 9.2 or newer.
    type: str
    choices: [auto, external, internal]
    version_added: 1.1.0
extends_documentation_fragment:
  - pvefleet.sdn.connection
  - pvefleet.sdn.lock
  - pvefleet.sdn.attributes
  - pvefleet.sdn.attributes.idempotent
notes:
  - Privileges - C(SDN.Audit) or C(SDN.Allocate) on C(/sdn/controllers/<controller>) to read the controller; C(SDN.Allocate) on
    C(/sdn/controllers) to create, change or remove it. See the collection's guide,
    R(Least privilege,ansible_collections.pvefleet.sdn.docsite.privileges) (docs/docsite/rst/privileges.rst), for a
    least-privilege role and tokens.
seealso:
  - module: pvefleet.sdn.sdn_lock
  - module: pvefleet.sdn.sdn_apply
"""

EXAMPLES = r"""
- name: The cluster's EVPN controller
  pvefleet.sdn.sdn_controller:
    controller: evpnctl
    type: evpn
    asn: 65000
    peers: [10.0.0.1, 10.0.0.2, 10.0.0.3]
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
  sample: controller
id:
  description: The Proxmox VE ID of the controller.
  returned: always
  type: str
  sample: evpnctl
diff:
  description: The controller before and after, as module options (shown with C(--diff)).
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

ARGUMENT_SPEC = object_argument_spec("controller")


def main() -> None:
    run_object_module("controller")


if __name__ == "__main__":
    main()
