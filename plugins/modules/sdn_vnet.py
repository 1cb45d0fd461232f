#!/usr/bin/python
# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: sdn_vnet
short_description: Manage an SDN vnet of a Proxmox VE remote
version_added: 1.0.0
description:
  - Creates, updates or deletes one SDN vnet in the pending SDN configuration of a Proxmox VE remote.
  - The change takes effect with M(pvefleet.sdn.sdn_apply); inside a transaction the lock token is sent with the write.
  - The vnet's zone is read from the remote before the write, so that the zone type's rules on the tag are checked
    with a clear message - C(simple) zones take no tag; C(vlan) zones need one up to 4096, unique in the zone;
    C(vxlan) and C(evpn) zones need one (a VNI up to 16777215, unique across all vxlan and evpn zones);
    C(evpn) vnets cannot be VLAN-aware.
author:
  - pvefleet developers (@pvefleet)
options:
  state:
    description: Whether the vnet should exist in the pending configuration.
    type: str
    choices: [present, absent]
    default: present
  purge:
    description: Remove the vnet's options that are not given.
    type: bool
    default: false
  vnet:
    description: ID of the vnet, 2 to 8 characters, a letter then letters or digits.
    type: str
    required: true
  zone:
    description: The zone of the vnet; it must exist in the pending configuration. Required to create a vnet.
    type: str
  tag:
    description: The VLAN tag or VXLAN VNI, 1 to 16777215 (see the rules of the zone types above).
    type: int
  alias:
    description: A description of the vnet, up to 256 characters.
    type: str
  vlanaware:
    description: Let guests use VLANs on the vnet. Not for C(evpn) zones, nor for vnets with subnets.
    type: bool
  isolate_ports:
    description: Isolate the vnet's ports from each other (traffic only to the outside).
    type: bool
extends_documentation_fragment:
  - pvefleet.sdn.connection
  - pvefleet.sdn.lock
  - pvefleet.sdn.attributes
  - pvefleet.sdn.attributes.idempotent
notes:
  - Privileges - C(SDN.Audit) or C(SDN.Allocate) on C(/sdn/zones/<zone>/<vnet>) to read the vnet and C(/sdn/zones/<zone>) to read its zone;
    C(SDN.Allocate) on C(/sdn/zones/<zone>) to create it and on C(/sdn/zones/<zone>/<vnet>) to change or remove it. See
    the collection's guide, R(Least privilege,ansible_collections.pvefleet.sdn.docsite.privileges)
    (docs/docsite/rst/privileges.rst), for a least-privilege role and tokens.
seealso:
  - module: pvefleet.sdn.sdn_lock
  - module: pvefleet.sdn.sdn_apply
"""

EXAMPLES = r"""
- name: A vnet in an EVPN zone
  pvefleet.sdn.sdn_vnet:
    vnet: vnet1
    zone: evpn1
    tag: 11000
    alias: production

- name: Remove it (its subnets must be gone first)
  pvefleet.sdn.sdn_vnet:
    vnet: vnet1
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
  sample: vnet
id:
  description: The Proxmox VE ID of the vnet.
  returned: always
  type: str
  sample: vnet1
diff:
  description: The vnet before and after, as module options (shown with C(--diff)).
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

ARGUMENT_SPEC = object_argument_spec("vnet")


def main() -> None:
    run_object_module("vnet")


if __name__ == "__main__":
    main()
