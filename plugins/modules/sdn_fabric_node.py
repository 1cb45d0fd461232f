#!/usr/bin/python
# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: sdn_fabric_node
short_description: Manage a node of an SDN fabric of a Proxmox VE remote
version_added: 1.1.0
description:
  - Creates, updates or deletes one node of an SDN fabric (M(pvefleet.sdn.sdn_fabric)) in the pending SDN
    configuration of a Proxmox VE remote - the cluster node's router address in the fabric and the interfaces the
    fabric's protocol runs on.
  - The fabric is read first and must exist in the pending configuration (created by an earlier task, or an earlier item
    of the transaction). The node takes its protocol from the fabric; its options are checked against that protocol's
    rules and against the fabric - O(ip) must lie inside the fabric's O(pvefleet.sdn.sdn_fabric#module:ip_prefix) and
    O(ip6) inside its O(pvefleet.sdn.sdn_fabric#module:ip6_prefix), and the node needs an address for each prefix the
    fabric has. Rules that span several nodes (one IP or interface address on two nodes) are left to Proxmox VE.
  - Fabric nodes are part of Proxmox VE's pending and running SDN configuration, like zones - a write changes the
    pending configuration, M(pvefleet.sdn.sdn_apply) makes it the running one (and configures the node's routing), and a
    transaction's rollback (M(pvefleet.sdn.sdn_lock) with O(pvefleet.sdn.sdn_lock#module:state=rolled_back)) undoes it.
  - Only the options given are compared and changed; set O(purge=true) to remove the options that are not given.
author:
  - pvefleet developers (@pvefleet)
options:
  state:
    description:
      - Whether the node should exist in the fabric in the pending configuration.
      - With V(absent), a fabric the remote does not have means there is nothing to remove.
    type: str
    choices: [present, absent]
    default: present
  purge:
    description: Remove the node's options that are not given.
    type: bool
    default: false
  fabric:
    description: ID of the fabric the node belongs to; it must exist.
    type: str
    required: true
  node:
    description:
      - The cluster node, by its Proxmox VE node name (such as C(pve1)) - letters, digits and C(-), not starting or
        ending with C(-).
    type: str
    required: true
  protocol:
    description:
      - The fabric's protocol. Need not be given - it is taken from the fabric, and any other value is an error.
      - The options of the other protocol are an error (C(ospf) nodes have no O(ip6), O(interfaces[].ip6) or
        O(interfaces[].hello_multiplier)).
    type: str
    choices: [openfabric, ospf]
  ip:
    description:
      - The node's IPv4 router address in the fabric, a single address (a /32) given without a prefix length, such as
        C(10.255.0.1).
      - It must lie inside the fabric's O(pvefleet.sdn.sdn_fabric#module:ip_prefix), and is required when the fabric
        has one.
    type: str
  ip6:
    description:
      - The node's IPv6 router address in the fabric, a single address given without a prefix length, such as
        C(fd00:255::1).
      - It must lie inside the fabric's O(pvefleet.sdn.sdn_fabric#module:ip6_prefix), and is required when the fabric
        has one. C(openfabric) only; OSPF fabrics have no IPv6 in Proxmox VE.
    type: str
  interfaces:
    description:
      - The network interfaces of the node that the fabric's protocol runs on, the whole list (an update replaces it;
        the order does not matter). Each interface once.
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - The interface's name on the node, such as C(ens19) - a letter, then 1 to 20 letters, digits or C(_),
            optionally C(.N) or C(:N).
        type: str
        required: true
      ip:
        description: The interface's IPv4 address with its prefix length, such as C(10.254.0.0/31).
        type: str
      ip6:
        description: The interface's IPv6 address with its prefix length, such as C(fd00:254::/127). C(openfabric) only.
        type: str
      hello_multiplier:
        description:
          - How many OpenFabric hellos may be missed before the neighbour is considered down, 2 to 100. C(openfabric)
            only.
        type: int
extends_documentation_fragment:
  - pvefleet.sdn.connection
  - pvefleet.sdn.lock
  - pvefleet.sdn.attributes
  - pvefleet.sdn.attributes.idempotent
notes:
  - Fabrics need Proxmox VE 9.0 or newer.
  - Privileges - C(SDN.Audit) on C(/sdn/fabrics/<fabric>) and C(Sys.Audit) on C(/nodes/<node>) to read the node and
    its fabric; C(SDN.Allocate) on C(/sdn/fabrics/<fabric>) and C(Sys.Modify) on C(/nodes/<node>) to create, change or
    remove it (a fabric node changes that node's network configuration). See the collection's guide,
    R(Least privilege,ansible_collections.pvefleet.sdn.docsite.privileges) (docs/docsite/rst/privileges.rst), for a
    least-privilege role and tokens.
seealso:
  - module: pvefleet.sdn.sdn_fabric
  - module: pvefleet.sdn.sdn_lock
  - module: pvefleet.sdn.sdn_apply
"""

EXAMPLES = r"""
# Three nodes in a full mesh: each has a /32 router address from the fabric's 10.255.0.0/24 and a
# point-to-point link (a /31) to each of the two others.
- name: The nodes of the OpenFabric underlay
  pvefleet.sdn.sdn_fabric_node:
    fabric: underlay
    node: "{{ item.node }}"
    ip: "{{ item.ip }}"
    interfaces: "{{ item.interfaces }}"
  loop:
    - node: pve1
      ip: 10.255.0.1
      interfaces:
        - {name: ens19, ip: 10.254.12.0/31}  # to pve2
        - {name: ens20, ip: 10.254.13.0/31}  # to pve3
    - node: pve2
      ip: 10.255.0.2
      interfaces:
        - {name: ens19, ip: 10.254.12.1/31}  # to pve1
        - {name: ens20, ip: 10.254.23.0/31}  # to pve3
    - node: pve3
      ip: 10.255.0.3
      interfaces:
        - {name: ens19, ip: 10.254.13.1/31}  # to pve1
        - {name: ens20, ip: 10.254.23.1/31}  # to pve2
  loop_control:
    label: "{{ item.node }}"

- name: A node of the OSPF fabric, with one point-to-point link
  pvefleet.sdn.sdn_fabric_node:
    fabric: ospf1
    node: pve1
    ip: 10.254.0.1
    interfaces:
      - name: ens21
        ip: 10.253.0.0/31

- name: Take a node out of the underlay
  pvefleet.sdn.sdn_fabric_node:
    fabric: underlay
    node: pve3
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
  sample: fabric_node
id:
  description: The Proxmox VE ID of the fabric node, its node name.
  returned: always
  type: str
  sample: pve1
diff:
  description: The fabric node before and after, as module options (shown with C(--diff)).
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

ARGUMENT_SPEC = object_argument_spec("fabric_node")


def main() -> None:
    run_object_module("fabric_node")


if __name__ == "__main__":
    main()
