#!/usr/bin/python
# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: sdn_fabric
short_description: Manage an SDN fabric of a Proxmox VE remote
version_added: 1.1.0
description:
  - Creates, updates or deletes one SDN fabric (an OpenFabric or OSPF routed underlay between the cluster's nodes) in the
    pending SDN configuration of a Proxmox VE remote. Its nodes are managed with M(pvefleet.sdn.sdn_fabric_node).
  - Fabrics are part of Proxmox VE's pending and running SDN configuration, like zones - a write changes the pending
    configuration, M(pvefleet.sdn.sdn_apply) makes it the running one, and a transaction's rollback
    (M(pvefleet.sdn.sdn_lock) with O(pvefleet.sdn.sdn_lock#module:state=rolled_back)) undoes it. Inside a transaction
    the lock token is sent with the write.
  - Only the options given are compared and changed; set O(purge=true) to remove the options that are not given.
  - Options are checked against the rules of the fabric's protocol before anything is sent. Rules that span several
    objects (one IP on two nodes, the prefixes of two fabrics overlapping) are left to Proxmox VE.
  - Proxmox VE refuses to remove a fabric while an EVPN controller or a VXLAN zone uses it.
author:
  - pvefleet developers (@pvefleet)
options:
  state:
    description: Whether the fabric should exist in the pending configuration.
    type: str
    choices: [present, absent]
    default: present
  purge:
    description: Remove the fabric's options that are not given.
    type: bool
    default: false
  fabric:
    description: ID of the fabric, 2 to 8 characters, letters, digits or C(-), not starting or ending with C(-).
    type: str
    required: true
  protocol:
    description:
      - The routing protocol of the fabric. Required to create a fabric; cannot be changed (delete the fabric and
        create it again).
      - The options of the other protocol are an error.
    type: str
    choices: [openfabric, ospf]
  ip_prefix:
    description:
      - The IPv4 network the nodes' router addresses (O(pvefleet.sdn.sdn_fabric_node#module:ip)) come from, such as
        C(10.255.0.0/24).
      - Required for C(ospf); an C(openfabric) fabric needs O(ip_prefix), O(ip6_prefix) or both.
    type: str
  ip6_prefix:
    description:
      - The IPv6 network the nodes' router addresses (O(pvefleet.sdn.sdn_fabric_node#module:ip6)) come from, such as
        C(fd00:255::/64).
      - C(openfabric) only; OSPF fabrics have no IPv6 in Proxmox VE.
    type: str
  hello_interval:
    description: The interval between OpenFabric hello packets, in seconds, 1 to 600. C(openfabric) only.
    type: float
  csnp_interval:
    description: The interval between OpenFabric CSNP packets, in seconds, 1 to 600. C(openfabric) only.
    type: float
  area:
    description:
      - The OSPF area, an IPv4 address (C(0.0.0.0)) or a number from 0 to 4294967295 (C(0)). Required for C(ospf); C(ospf)
        only.
    type: str
extends_documentation_fragment:
  - pvefleet.sdn.connection
  - pvefleet.sdn.lock
  - pvefleet.sdn.attributes
  - pvefleet.sdn.attributes.idempotent
notes:
  - Fabrics need Proxmox VE 9.0 or newer.
  - Privileges - C(SDN.Audit) or C(SDN.Allocate) on C(/sdn/fabrics/<fabric>) to read the fabric; C(SDN.Allocate) on
    C(/sdn/fabrics) to create it and on C(/sdn/fabrics/<fabric>) to change or remove it. See the collection's guide,
    R(Least privilege,ansible_collections.pvefleet.sdn.docsite.privileges) (docs/docsite/rst/privileges.rst), for a
    least-privilege role and tokens.
seealso:
  - module: pvefleet.sdn.sdn_fabric_node
  - module: pvefleet.sdn.sdn_lock
  - module: pvefleet.sdn.sdn_apply
"""

EXAMPLES = r"""
- name: An OpenFabric underlay whose nodes take their router addresses from 10.255.0.0/24
  pvefleet.sdn.sdn_fabric:
    fabric: underlay
    protocol: openfabric
    ip_prefix: 10.255.0.0/24
    hello_interval: 3

- name: An OSPF fabric in the backbone area
  pvefleet.sdn.sdn_fabric:
    fabric: ospf1
    protocol: ospf
    ip_prefix: 10.254.0.0/24
    area: 0.0.0.0

- name: Remove a fabric (after its nodes, and after the zones and controllers that use it)
  pvefleet.sdn.sdn_fabric:
    fabric: ospf1
    state: absent
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
  sample: fabric
id:
  description: The Proxmox VE ID of the fabric.
  returned: always
  type: str
  sample: underlay
diff:
  description: The fabric before and after, as module options (shown with C(--diff)).
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

ARGUMENT_SPEC = object_argument_spec("fabric")


def main() -> None:
    run_object_module("fabric")


if __name__ == "__main__":
    main()
