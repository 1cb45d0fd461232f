#!/usr/bin/python
# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: sdn_prefix_list
short_description: Manage an SDN prefix list of a Proxmox VE remote
version_added: 1.1.0
description:
  - Creates, updates or deletes one SDN prefix list in the pending SDN configuration of a Proxmox VE remote - an ordered
    list of networks to permit or deny, which the entries of a route map (M(pvefleet.sdn.sdn_route_map)) match routes
    against.
  - The change takes effect with M(pvefleet.sdn.sdn_apply). Inside a transaction opened by M(pvefleet.sdn.sdn_lock)
    the lock token is sent with the write.
  - O(entries) is the whole list - an update replaces every entry of the prefix list with the entries given.
  - Entries are checked before anything is sent.
author:
  - pvefleet developers (@pvefleet)
options:
  state:
    description: Whether the prefix list should exist in the pending configuration.
    type: str
    choices: [present, absent]
    default: present
  purge:
    description: Remove the prefix list's options that are not given (without O(entries), its entries).
    type: bool
    default: false
  prefix_list:
    description:
      - ID of the prefix list, 1 to 32 characters, letters, digits, C(-) or C(_), starting and ending with a letter or
        digit.
    type: str
    required: true
  entries:
    description:
      - The entries of the prefix list, all of them; an update replaces the list.
      - A route is checked against the entries in O(entries[].seq) order; the first entry that matches it decides, and a
        route that no entry matches is denied.
    type: list
    elements: dict
    suboptions:
      action:
        description: Permit or deny the routes the entry matches.
        type: str
        required: true
        choices: [permit, deny]
      prefix:
        description:
          - The network, IPv4 or IPv6 in CIDR form without host bits, such as C(10.20.0.0/16) or C(fd00:20::/48).
          - Without O(entries[].ge) and O(entries[].le) only that exact network matches.
        type: str
        required: true
      le:
        description:
          - Also match longer prefixes inside O(entries[].prefix), up to this prefix length - from the length of
            O(entries[].prefix) to 32 (IPv4) or 128 (IPv6), and not less than O(entries[].ge).
        type: int
      ge:
        description:
          - Match prefixes inside O(entries[].prefix) of at least this prefix length - from the length of
            O(entries[].prefix) to 32 (IPv4) or 128 (IPv6).
        type: int
      seq:
        description:
          - The entry's sequence number, 0 to 4294967295, unique in the list.
          - Without it, the entry gets the number Proxmox VE would give it - the highest O(entries[].seq) of the entries
            before it in the list plus 5, or 5 for the first. That number must not be one another entry gives; give
            every entry its O(entries[].seq) when in doubt.
        type: int
extends_documentation_fragment:
  - pvefleet.sdn.connection
  - pvefleet.sdn.lock
  - pvefleet.sdn.attributes
  - pvefleet.sdn.attributes.idempotent
notes:
  - Prefix lists need Proxmox VE 9.2 or newer.
  - Privileges - C(SDN.Audit) on C(/sdn/prefix-lists/<prefix_list>) to read it; C(SDN.Allocate) on C(/sdn/prefix-lists)
    to create it, on C(/sdn/prefix-lists/<prefix_list>) to change or remove it (Proxmox VE 9.2's schema). See
    the collection's guide, R(Least privilege,ansible_collections.pvefleet.sdn.docsite.privileges)
    (docs/docsite/rst/privileges.rst), for a least-privilege role and tokens.
seealso:
  - module: pvefleet.sdn.sdn_route_map
  - module: pvefleet.sdn.sdn_lock
  - module: pvefleet.sdn.sdn_apply
"""

EXAMPLES = r"""
- name: The tenants' networks, /24 or longer inside 10.20.0.0/16, and nothing else
  pvefleet.sdn.sdn_prefix_list:
    prefix_list: tenants
    entries:
      - seq: 10
        action: permit
        prefix: 10.20.0.0/16
        ge: 24
        le: 32
      - seq: 20
        action: deny
        prefix: 0.0.0.0/0
        le: 32

- name: Without seq, the entries are numbered 5, 10, 15
  pvefleet.sdn.sdn_prefix_list:
    prefix_list: mgmt
    entries:
      - {action: permit, prefix: 10.0.0.0/24}
      - {action: permit, prefix: 10.0.1.0/24}
      - {action: permit, prefix: "fd00:10::/64"}

- name: Remove a prefix list
  pvefleet.sdn.sdn_prefix_list:
    prefix_list: mgmt
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
  sample: prefix_list
id:
  description: The Proxmox VE ID of the prefix list.
  returned: always
  type: str
  sample: tenants
diff:
  description: The prefix list before and after, as module options (shown with C(--diff)); every entry with its C(seq).
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

ARGUMENT_SPEC = object_argument_spec("prefix_list")


def main() -> None:
    run_object_module("prefix_list")


if __name__ == "__main__":
    main()
