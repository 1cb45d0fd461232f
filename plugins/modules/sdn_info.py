#!/usr/bin/python
# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: sdn_info
short_description: Read the SDN configuration and lock state of a Proxmox VE remote
version_added: 1.0.0
description:
  - Returns the remote's SDN zones, vnets, subnets, controllers, fabrics and their nodes, prefix lists and route maps
    in the chosen view, whether its SDN lock is held, and the objects an apply would change.
  - Also its IPAM and DNS plugins (their secrets masked), the entries of the C(pve) IPAM (O(ipam_status)) and the
    firewall of every applied vnet (O(firewall)). These are written at once by Proxmox VE, never pending, so they
    are the same in every view.
  - With O(fabric_status), also what every node reports of each fabric it is in - its routes, neighbors and interfaces,
    as the node's FRR has them.
  - Fabrics need Proxmox VE 9, prefix lists and route maps 9.2; on an older remote their lists are empty.
  - The lock state is probed the way Proxmox VE allows, with a release without token, which changes nothing when no
    lock is held; there is no API to read it. That probe needs C(SDN.Allocate) on C(/sdn); with a token that has only
    C(SDN.Audit) (such as the built-in role C(PVEAuditor)) the lock is reported V(unknown) instead.
notes:
  - Privileges - C(SDN.Audit) or C(SDN.Allocate) on what it reads (C(/sdn), propagated, for everything; listings show only what the token
    may see); C(SDN.Allocate) on C(/sdn) to probe the lock, which is otherwise reported V(unknown). A token with the
    built-in role C(PVEAuditor) on C(/sdn) is enough. See the collection's guide,
    R(Least privilege,ansible_collections.pvefleet.sdn.docsite.privileges) (docs/docsite/rst/privileges.rst), for a
    least-privilege role and tokens.
author:
  - pvefleet developers (@pvefleet)
options:
  view:
    description:
      - "V(pending) is Proxmox VE's merged view: the running values, with C(state) (C(new), C(changed), C(deleted))
        and C(pending) (the values an apply would set) on objects that an apply would change."
      - V(running) is the configuration last applied.
      - V(config) is the pending configuration files as they are.
    type: str
    choices: [pending, running, config]
    default: pending
  fabric_status:
    description:
      - Read each fabric's routes, neighbors and interfaces from every node in it (three requests per node and
        fabric; nodes of fabrics not applied yet are left out).
    type: bool
    default: true
    version_added: 1.1.0
  ipam_status:
    description:
      - Read the entries of the C(pve) IPAM (C(GET /cluster/sdn/ipams/pve/status), one request; Proxmox VE lists them
        only for zones with DHCP and has no such listing for other IPAM plugins).
    type: bool
    default: true
    version_added: 1.2.0
  firewall:
    description:
      - Read the firewall options and rules of every vnet in the running configuration (two requests per vnet;
        Proxmox VE has no firewall for a vnet not applied yet).
    type: bool
    default: true
    version_added: 1.2.0
extends_documentation_fragment:
  - pvefleet.sdn.connection
  - pvefleet.sdn.attributes.action_group
attributes:
  check_mode:
    description: Reads only; runs the same in check mode.
    support: full
  diff_mode:
    description: Reads only; there is nothing to diff.
    support: none
"""

EXAMPLES = r"""
- name: What would an apply change, and is the lock held?
  pvefleet.sdn.sdn_info:
  register: sdn

- name: Refuse to go on when someone else's changes are pending
  ansible.builtin.assert:
    that: sdn.pending_changes | length == 0
    fail_msg: "pending on {{ inventory_hostname }}: {{ sdn.pending_changes | join(', ') }}"

- name: The running configuration
  pvefleet.sdn.sdn_info:
    view: running
"""

RETURN = r"""
view:
  description: The view the objects are shown in.
  returned: always
  type: str
  sample: pending
zones:
  description: The zones, as Proxmox VE returns them (wire keys such as C(vrf-vxlan)).
  returned: always
  type: list
  elements: dict
vnets:
  description: The vnets.
  returned: always
  type: list
  elements: dict
subnets:
  description: The subnets of every vnet, with C(id) (C(<zone>-<network>-<prefixlen>)), C(cidr) and C(vnet).
  returned: always
  type: list
  elements: dict
controllers:
  description: The controllers.
  returned: always
  type: list
  elements: dict
fabrics:
  description: The fabrics, as Proxmox VE returns them (C(id), C(protocol), C(ip_prefix), ...).
  returned: always
  type: list
  elements: dict
  version_added: 1.1.0
fabric_nodes:
  description: The nodes of every fabric, with C(fabric_id), C(node_id), C(protocol), C(ip), C(interfaces).
  returned: always
  type: list
  elements: dict
  version_added: 1.1.0
prefix_lists:
  description: The prefix lists, each with C(id) and C(entries) (property strings such as C(action=permit,prefix=10.0.0.0/8,seq=5)).
  returned: always
  type: list
  elements: dict
  version_added: 1.1.0
route_maps:
  description: The route maps, each C(route-map-id) and its C(entries) (C(order), C(action), C(match), C(set), ...) sorted by order.
  returned: always
  type: list
  elements: dict
  version_added: 1.1.0
fabric_status:
  description: Per fabric and node, what the node reports; empty when O(fabric_status=false).
  returned: always
  type: list
  elements: dict
  version_added: 1.1.0
  contains:
    fabric:
      description: The fabric.
      type: str
      returned: always
    node:
      description: The node.
      type: str
      returned: always
    routes:
      description: The routes the fabric gave the node (C(route), C(via)).
      type: list
      elements: dict
      returned: when the node answered
    neighbors:
      description: The node's neighbors in the fabric (C(neighbor), C(status), C(uptime)).
      type: list
      elements: dict
      returned: when the node answered
    interfaces:
      description: The node's interfaces in the fabric (C(name), C(state), C(type)).
      type: list
      elements: dict
      returned: when the node answered
    error:
      description: Why the node's state could not be read.
      type: str
      returned: when the node did not answer
ipams:
  description:
    - The IPAM plugins (C(ipam), C(type), C(url), C(section), ...), as Proxmox VE lists them.
    - A C(token) is shown as C((secret)); Proxmox VE returns it as stored to anyone who may list the plugins.
  returned: always
  type: list
  elements: dict
  version_added: 1.2.0
dns_plugins:
  description: The DNS plugins (C(dns), C(type), C(url), C(ttl), ...); a C(key) is shown as C((secret)).
  returned: always
  type: list
  elements: dict
  version_added: 1.2.0
ipam_status:
  description:
    - The entries of the C(pve) IPAM (C(zone), C(vnet), C(subnet), C(ip), C(mac), C(vmid), C(hostname), C(gateway)),
      for the zones with DHCP; empty when O(ipam_status=false) or the remote has no C(pve) IPAM.
  returned: always
  type: list
  elements: dict
  version_added: 1.2.0
vnet_firewalls:
  description: Per vnet of the running configuration, its firewall; empty when O(firewall=false).
  returned: always
  type: list
  elements: dict
  version_added: 1.2.0
  contains:
    vnet:
      description: The vnet.
      type: str
      returned: always
    options:
      description: The firewall options (C(enable), C(policy_forward), C(log_level_forward)) that are set.
      type: dict
      returned: always
    rules:
      description: The rules in order (C(pos), C(type), C(action), C(enable), C(source), C(dest), C(proto), ...).
      type: list
      elements: dict
      returned: always
lock:
  description: The SDN lock.
  returned: always
  type: dict
  contains:
    held:
      description: Whether a client holds the lock; null when the token may not probe it.
      type: bool
      returned: always
    state:
      description:
        - V(held), V(free), V(unknown) when the token may not probe the lock (that needs C(SDN.Allocate) on C(/sdn)),
          or V(unsupported) on a remote without the SDN lock (Proxmox VE 8).
      type: str
      returned: always
    reason:
      description: Why the state is unknown or unsupported.
      type: str
      returned: when state is unknown
pending_changes:
  description: The objects an apply would change, such as C(vnet vnet1 (new)), sorted; empty when nothing is pending.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import CONNECTION, INFO_OPTIONS, merge  # noqa: E402
from ansible_collections.pvefleet.sdn.plugins.module_utils._module import run_module  # noqa: E402

ARGUMENT_SPEC = merge(CONNECTION, INFO_OPTIONS)


def main() -> None:
    from ansible_collections.pvefleet.sdn.plugins.module_utils._info_task import run_info_task

    run_module(ARGUMENT_SPEC, run_info_task)


if __name__ == "__main__":
    main()
