#!/usr/bin/python
# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: sdn_route_map
short_description: Manage an SDN route map of a Proxmox VE remote
version_added: 1.1.0
description:
  - Creates, updates or deletes one SDN route map in the pending SDN configuration of a Proxmox VE remote - a routing
    policy that a controller (such as the EVPN controller, M(pvefleet.sdn.sdn_controller)) applies to the routes it
    receives or sends.
  - A route map is managed as a whole. O(entries) declares every entry of the route map; entries of the route map on the
    remote that are not declared are removed, and O(state=absent) removes every entry.
  - Proxmox VE stores each entry as an object of its own; the module creates, changes and removes them one by one.
    Inside a transaction opened by M(pvefleet.sdn.sdn_lock) the lock token is sent with every write. Outside one, a run
    that fails part way can leave some entries changed and others not; run it again.
  - The change takes effect with M(pvefleet.sdn.sdn_apply).
  - Entries are checked before anything is sent (the keys of O(entries[].match), O(entries[].set) and
    O(entries[].exit_action), and which of them take a value).
author:
  - pvefleet developers (@pvefleet)
options:
  state:
    description: Whether the route map should exist in the pending configuration; V(absent) removes every entry.
    type: str
    choices: [present, absent]
    default: present
  route_map:
    description:
      - ID of the route map, 1 to 32 characters, letters, digits, C(-) or C(_), starting and ending with a letter or
        digit.
    type: str
    required: true
  entries:
    description:
      - Every entry of the route map. Required with O(state=present) - a route map has at least one entry.
      - A route goes through the entries in O(entries[].order) order; the first entry whose O(entries[].match) clauses
        all match it decides (unless its O(entries[].exit_action) says otherwise), and a route that no entry matches is
        denied.
    type: list
    elements: dict
    suboptions:
      order:
        description: The entry's place in the route map, 0 to 65535, unique in the route map.
        type: int
        required: true
      action:
        description: Permit (and apply O(entries[].set) to) or deny the routes the entry matches.
        type: str
        required: true
        choices: [permit, deny]
      match:
        description:
          - The conditions a route must all meet for the entry to match it; an entry without any matches every route.
          - The keys, each with an O(entries[].match[].value) - C(route-type) (an EVPN route type, one of C(ead), C(macip),
            C(multicast), C(es) or C(prefix)), C(vni), C(ip-address-prefix-list), C(ip6-address-prefix-list),
            C(ip-next-hop-prefix-list) and C(ip6-next-hop-prefix-list) (the value names a prefix list,
            M(pvefleet.sdn.sdn_prefix_list)), C(ip-next-hop-address), C(ip6-next-hop-address), C(metric), C(tag),
            C(local-preference) and C(peer).
        type: list
        elements: dict
        suboptions:
          key:
            description: What to match, one of the keys above.
            type: str
            required: true
          value:
            description: The value to match. Required for every key.
            type: str
      set:
        description:
          - What to change in the routes a C(permit) entry matches.
          - The keys that take no O(entries[].set[].value) - C(ip-next-hop-peer-address), C(ip-next-hop-unchanged),
            C(ip6-next-hop-peer-address) and C(ip6-next-hop-prefer-global).
          - The keys that need one - C(ip-next-hop), C(ip6-next-hop), C(local-preference), C(tag), C(weight), C(metric)
            and C(src).
        type: list
        elements: dict
        suboptions:
          key:
            description: What to set, one of the keys above.
            type: str
            required: true
          value:
            description: The value to set; required for the keys that take one, an error for the others.
            type: str
      call:
        description: ID of another route map to call when the entry matches.
        type: str
      exit_action:
        description:
          - What happens after the entry matched, instead of ending there.
          - O(entries[].exit_action.key) C(on-match-next) (no value) goes on with the next entry; C(on-match-goto) and
            C(continue) go on with the entry whose O(entries[].order) is O(entries[].exit_action.value).
        type: dict
        suboptions:
          key:
            description: One of C(on-match-next), C(on-match-goto) or C(continue).
            type: str
            required: true
          value:
            description: The order of the entry to go on with, 0 to 65535. Required for C(on-match-goto) and C(continue).
            type: str
extends_documentation_fragment:
  - pvefleet.sdn.connection
  - pvefleet.sdn.lock
  - pvefleet.sdn.attributes
  - pvefleet.sdn.attributes.idempotent
notes:
  - Route maps need Proxmox VE 9.2 or newer.
  - Privileges - C(SDN.Audit) or C(SDN.Allocate) on C(/sdn/route-maps/<route_map>) to read it; C(SDN.Allocate) on
    C(/sdn/route-maps) to create entries, on C(/sdn/route-maps/<route_map>) to change or remove them (Proxmox VE 9.2's
    schema).
    See the collection's guide, R(Least privilege,ansible_collections.pvefleet.sdn.docsite.privileges)
    (docs/docsite/rst/privileges.rst), for a least-privilege role and tokens.
seealso:
  - module: pvefleet.sdn.sdn_prefix_list
  - module: pvefleet.sdn.sdn_controller
  - module: pvefleet.sdn.sdn_lock
  - module: pvefleet.sdn.sdn_apply
"""

EXAMPLES = r"""
- name: The tenants' networks
  pvefleet.sdn.sdn_prefix_list:
    prefix_list: tenants
    entries:
      - {seq: 10, action: permit, prefix: 10.20.0.0/16, ge: 24, le: 32}

- name: Prefer the routes to the tenants' networks; accept the others as they are
  pvefleet.sdn.sdn_route_map:
    route_map: evpn-in
    entries:
      - order: 10
        action: permit
        match:
          - key: ip-address-prefix-list
            value: tenants
        set:
          - key: local-preference
            value: "200"
      - order: 100
        action: permit

- name: The EVPN controller applies it to the routes it receives
  pvefleet.sdn.sdn_controller:
    controller: evpnctl
    type: evpn
    asn: 65000
    fabric: underlay
    route_map_in: evpn-in

- name: Keep the next hop of EVPN prefix routes, then go on with the next entry
  pvefleet.sdn.sdn_route_map:
    route_map: evpn-out
    entries:
      - order: 10
        action: permit
        match:
          - {key: route-type, value: prefix}
        set:
          - {key: ip-next-hop-unchanged}
        exit_action:
          key: on-match-next
      - order: 20
        action: permit

- name: Remove a route map, every entry of it
  pvefleet.sdn.sdn_route_map:
    route_map: evpn-out
    state: absent
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
  sample: route_map
id:
  description: The ID of the route map.
  returned: always
  type: str
  sample: evpn-in
diff:
  description: The route map before and after, as module options (shown with C(--diff)), its entries in order.
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

ARGUMENT_SPEC = object_argument_spec("route_map")


def main() -> None:
    run_object_module("route_map")


if __name__ == "__main__":
    main()
