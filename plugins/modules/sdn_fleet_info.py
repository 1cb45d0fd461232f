#!/usr/bin/python
# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: sdn_fleet_info
short_description: Read the SDN of every Proxmox VE remote at once, merged across the fleet
version_added: 1.1.0
description:
  - Runs once for the whole play (like M(pvefleet.sdn.sdn_transaction)) and reads, from the controller, every remote
    concurrently; it changes nothing.
  - For every remote - its objects as M(pvefleet.sdn.sdn_info) reads them (zones, vnets, subnets, controllers, fabrics
    and their nodes, prefix lists, route maps, in the pending view), its SDN lock, its pending changes and its Proxmox
    VE version; and for every node what the node reports - each zone's status, each vnet's status, and for EVPN the
    zone's IP-VRF (its routing table) and each vnet's MAC-VRF (the MAC and IP routes of its gateways).
  - A remote that cannot be read (it does not answer, refuses the credentials, ...) is reported with its error, first;
    the others are still read. A node whose status cannot be read is reported with its errors.
  - Across the fleet - EVPN zones merged by the ASN of their controller and their VRF VNI (C(vrf-vxlan)), and vnets of
    VXLAN and EVPN zones merged by their VNI (their tag), each with the remotes and nodes that carry it; the
    mismatches between remotes; and with O(free_tags), the tags no remote uses in a range.
  - Prints a table, a line per remote and object, failed remotes first, and with O(report) writes a Markdown report
    with a Mermaid diagram of the topology.
  - See R(Know the fleet,ansible_collections.pvefleet.sdn.docsite.fleet_view) (docs/docsite/rst/fleet-view.rst) for
    a whole use - a free VNI found, then a vnet stretched over three clusters.
author:
  - pvefleet developers (@pvefleet)
options:
  remotes:
    description:
      - The inventory hosts (remotes) to read. Defaults to every host of the play (not limited by C(serial)).
      - Each remote's connection settings are those its own task would have, as for M(pvefleet.sdn.sdn_transaction) -
        this task's connection options and C(module_defaults), templated with that host's variables, then its host
        variables (C(pvefleet_sdn_api_host), ...), then the E(PROXMOX_*) environment variables. A host whose settings
        are incomplete is reported as a remote that could not be read.
      - Every name must be an inventory host.
    type: list
    elements: str
  concurrency:
    description:
      - How many remotes are read at the same time. Each opens at most two HTTPS connections.
    type: int
    default: 256
  node_status:
    description:
      - Read what every node reports - its zones' and vnets' status, and the IP-VRF of each EVPN zone and the MAC-VRF of
        each EVPN vnet (Proxmox VE 9.1 or newer; on an older remote these reads are reported as the node's errors).
      - With V(false), only the list of nodes is read, and the nodes that carry a zone or vnet are those the
        zone's C(nodes) allow.
    type: bool
    default: true
  fabric_status:
    description:
      - Read each fabric's routes, neighbors and interfaces from every node in it, as M(pvefleet.sdn.sdn_info) does.
    type: bool
    default: true
  free_tags:
    description:
      - Find the tags that no remote uses in a range.
      - A tag counts as used when any remote has it, applied or pending.
    type: dict
    suboptions:
      range:
        description:
          - The range, V([start, end]), both included.
          - Within 1 to 4094 for O(free_tags.zone_type=vlan) and O(free_tags.zone_type=qinq), within 1 to 16777215
            (24 bits) for VXLAN and EVPN zones, and without a zone type.
        type: list
        elements: int
        required: true
      zone_type:
        description:
          - The type of zone the tag is for.
          - V(vlan) or V(qinq) - the tags used are the vnet tags of VLAN and QinQ zones and the service VLAN of QinQ
            zones.
          - V(vxlan) or V(evpn) - the tags used are the VNIs of vnets of VXLAN and EVPN zones and the VRF VNIs of EVPN
            zones.
          - Without it, every tag of every zone counts as used.
          - A vnet whose zone is not known counts for every type.
        type: str
        choices: [evpn, qinq, vlan, vxlan]
  report:
    description:
      - Write a Markdown report to this file on the controller - the remotes, the mismatches, the merged EVPN zones
        and vnets, the free tags, every object and a Mermaid C(flowchart LR) of the topology (a subgraph per remote with
        its zones and vnets, and the VNIs shared between remotes), which GitHub and GitLab render.
      - The file is replaced whole; its directory is made if needed. It is written in check mode too.
    type: path
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
  bypass_host_loop:
    description: Runs once for all the hosts of the play.
    support: full
notes:
  - The result is registered on the host the task ran on (the first of the play); use C(run_once) and refer to it from
    there, or through C(hostvars).
  - The task does not fail when a remote cannot be read; RV(ok) is then false, RV(failed_remotes) lists it and each
    such remote's entry in RV(remotes) has its C(error).
  - Secrets (token secrets, passwords) are never in the result or the report, nor are lock tokens.
  - Privileges - what M(pvefleet.sdn.sdn_info) needs (C(SDN.Audit) on C(/sdn), propagated; C(SDN.Allocate) to probe the
    lock, which is otherwise V(unknown)). The built-in role C(PVEAuditor) on C(/) is enough for everything, the node
    list's figures included. See
    R(Least privilege,ansible_collections.pvefleet.sdn.docsite.privileges) (docs/docsite/rst/privileges.rst).
  - Per remote it sends about 8 requests, plus per node 1 for its zones, 1 per zone, 1 more per EVPN zone and 1 per EVPN
    vnet (with O(node_status)), plus 3 per node and fabric (with O(fabric_status)).
seealso:
  - module: pvefleet.sdn.sdn_info
  - module: pvefleet.sdn.sdn_transaction
"""

EXAMPLES = r"""
- name: Know the fleet before changing it
  hosts: remotes
  gather_facts: false
  tasks:
    - name: Read every remote, find a free VNI and write a report
      pvefleet.sdn.sdn_fleet_info:
        free_tags:
          range: [11000, 11999]
          zone_type: evpn
        report: "{{ playbook_dir }}/fleet-report.md"
      run_once: true
      register: fleet

    - name: Stop when the remotes disagree
      ansible.builtin.assert:
        that: fleet.mismatches | length == 0
        fail_msg: "{{ fleet.mismatches | map(attribute='message') | list }}"
      run_once: true

    - name: The first free VNI
      ansible.builtin.debug:
        msg: "{{ fleet.free_tags[0][0] }}"
      run_once: true
"""

RETURN = r"""
ok:
  description: Whether every remote could be read.
  returned: always
  type: bool
remotes:
  description:
    - Per remote (inventory host) - C(ok), C(remote) (its address), and either C(error) or what was read - C(version)
      (Proxmox VE's), C(lock), C(pending_changes), C(zones), C(vnets), C(subnets), C(controllers), C(fabrics),
      C(fabric_nodes), C(prefix_lists), C(route_maps), C(fabric_status) as M(pvefleet.sdn.sdn_info) returns them, and
      C(nodes).
    - C(nodes) - per node, C(status) (C(online), ...), C(zones) (per zone C(status), and for an EVPN zone C(ip_vrf),
      its routes - C(ip), C(protocol), C(metric), C(nexthops)), C(vnets) (per vnet C(zone), C(status), C(statusmsg),
      and for a vnet of an EVPN zone C(mac_vrf) - C(mac), C(ip), C(nexthop)) and C(errors), the node reads that failed.
      With O(node_status=false), only C(status).
  returned: always
  type: dict
  sample:
    remote001:
      ok: true
      remote: "192.0.2.10:8006"
      version: 9.2.11
      lock: {held: false, state: free}
      nodes:
        pve1:
          status: online
          zones: {evpn1: {status: available, ip_vrf: [{ip: 10.1.0.0/24, protocol: connected, metric: 0, nexthops: [vnet1]}]}}
          vnets: {vnet1: {zone: evpn1, status: available, mac_vrf: [{mac: "BC:24:11:00:00:01", ip: 10.1.0.1, nexthop: 10.0.0.1}]}}
          errors: []
    remote002: {ok: false, remote: "192.0.2.11:8006", error: "remote002: GET /version: connection refused"}
failed_remotes:
  description: The remotes that could not be read, sorted.
  returned: always
  type: list
  elements: str
merged:
  description: What the remotes have in common.
  returned: always
  type: dict
  contains:
    evpn_zones:
      description:
        - EVPN zones, one per (C(asn), C(vrf_vxlan)) - the ASN of the zone's controller and its VRF VNI - with C(zones)
          (their names), C(remotes), C(carriers) (per remote and zone - C(remote), C(zone), C(controller), C(asn),
          C(rt_import), C(nodes) and C(state) when an apply would change it) and C(mismatches) (the kinds of
          RV(mismatches) that concern it).
      type: list
      elements: dict
      returned: always
    vnets:
      description:
        - Vnets of VXLAN and EVPN zones, one per C(vni), with C(vnets) (their names), C(zones), C(remotes),
          C(carriers) (C(remote), C(vnet), C(zone), C(zone_type), C(nodes), C(state)) and C(mismatches).
      type: list
      elements: dict
      returned: always
mismatches:
  description:
    - What disagrees between remotes, each with C(kind), C(message), C(remotes) and its particulars.
    - V(vni) - one VNI carried by vnets of different names or zones (C(vni), C(vnets), C(zones)).
    - V(vnet_tag) - one vnet name with different tags, or a tag on some remotes only (C(vnet), C(tags)).
    - V(evpn_asn) - one VRF VNI in EVPN zones whose controllers have different ASNs (C(vrf_vxlan), C(asns)).
    - V(evpn_route_target) - one merged EVPN zone importing different route targets (C(asn), C(vrf_vxlan),
      C(route_targets)).
  returned: always
  type: list
  elements: dict
  sample: [{kind: vnet_tag, vnet: vnet1, tags: [11000, 11001], remotes: [remote001, remote002],
            message: "vnet vnet1 has tag 11000 on remote001; tag 11001 on remote002"}]
free_tags:
  description: The tags no remote uses in O(free_tags.range), as V([first, last]) ranges in order.
  returned: when O(free_tags) is given
  type: list
  elements: list
  sample: [[11000, 11000], [11002, 11999]]
summary:
  description: The table the task prints, a line per remote and object, failed remotes first, then the mismatches.
  returned: always
  type: list
  elements: str
report_file:
  description: The absolute path of the Markdown report.
  returned: when O(report) is given
  type: str
"""
