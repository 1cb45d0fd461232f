#!/usr/bin/python
# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: sdn_vnet_firewall
short_description: Manage the firewall of a Proxmox VE SDN vnet, its options and its ordered rules
version_added: 1.2.0
description:
  - Sets the firewall options of one vnet (C(/cluster/sdn/vnets/<vnet>/firewall/options)) and converges its rule
    list (C(.../firewall/rules)) to the one declared, in order. Rules of a vnet act on the traffic the vnet forwards
    (Proxmox VE's C(forward) direction).
  - Proxmox VE addresses rules by position. The module plans the fewest requests that turn the list into the
    declared one - new rules are created disabled at the top (so they act on nothing yet), the rules are moved
    into order keeping the longest run already in order in place, changed rules are updated in place, new rules
    are enabled once in place, and (with O(exclusive)) rules not declared are deleted last, so that until then they
    act as before. Each request carries the digest of the list it was planned on, and the list is read back after
    each, so that a change made meanwhile by someone else stops the module instead of editing the wrong rule.
  - The vnet must be in the running SDN configuration - Proxmox VE has a firewall only for applied vnets. Options and
    rules not given are left as they are.
author:
  - pvefleet developers (@pvefleet)
options:
  vnet:
    description: The vnet, as it is in the running SDN configuration.
    type: str
    required: true
  enable:
    description: Whether the vnet's firewall is on (Proxmox VE's default is off).
    type: bool
  policy_forward:
    description: What happens to forwarded traffic that no rule matches (Proxmox VE's default is C(ACCEPT)).
    type: str
    choices: [ACCEPT, DROP]
  log_level_forward:
    description: The log level of the forward chain's policy.
    type: str
    choices: [emerg, alert, crit, err, warning, notice, info, debug, nolog]
  rules:
    description:
      - The rules in order, the first matched first. Not given, the rules are not managed; V([]) with O(exclusive)
        removes them all.
      - Each rule's options are Proxmox VE's rule fields, C(icmp-type) spelled O(rules[].icmp_type).
    type: list
    elements: dict
    suboptions:
      type:
        description: V(forward), a rule of its own, or V(group), which runs a security group's rules (named by O(rules[].action)).
        type: str
        choices: [forward, group]
        default: forward
      action:
        description:
          - V(ACCEPT) or V(DROP) for a V(forward) rule (Proxmox VE refuses C(REJECT) on the forward chain); for a
            V(group) rule, the security group's name.
        type: str
        required: true
      enable:
        description: Whether the rule acts.
        type: bool
        default: true
      comment:
        description: A comment; with O(match=comment) it is the rule's name, which finds it again in the list.
        type: str
      source:
        description: Source addresses - IPs, CIDRs or ranges separated by commas, an IP set (C(+name)) or an alias.
        type: str
      dest:
        description: Destination addresses, as O(rules[].source).
        type: str
      proto:
        description: The IP protocol, by name (C(tcp), C(udp), C(icmp), ...) or number.
        type: str
      dport:
        description: Destination ports or ranges (C(22), C(80,443), C(8000:8100)); needs a O(rules[].proto) with ports.
        type: str
      sport:
        description: Source ports or ranges; needs a O(rules[].proto) with ports.
        type: str
      macro:
        description: A Proxmox VE firewall macro (C(SSH), C(HTTP), ...), case-insensitive.
        type: str
      icmp_type:
        description: The ICMP type, with O(rules[].proto) C(icmp) or C(icmpv6).
        type: str
      log:
        description: The rule's log level.
        type: str
        choices: [emerg, alert, crit, err, warning, notice, info, debug, nolog]
  exclusive:
    description:
      - V(true) - the declared rules are the whole list; rules not declared are deleted (last).
      - V(false) - the declared rules are kept in the declared order among the others, which are left alone; a
        declared rule that has to move, or a new one, goes right after the declared rule before it (the first one to
        the top).
    type: bool
    default: true
  match:
    description:
      - How a declared rule finds the rule it is in the list.
      - V(comment) - by its O(rules[].comment), then updated in place if its other options differ; a declared rule
        without comment matches an uncommented rule that does the same (all options but comment and enable).
      - V(rule) - by what it does (all options but comment and enable); a rule that differs in anything else is a
        new rule (and, with O(exclusive), the old one is deleted).
    type: str
    choices: [comment, rule]
    default: comment
extends_documentation_fragment:
  - pvefleet.sdn.connection
  - pvefleet.sdn.attributes
  - pvefleet.sdn.attributes.idempotent
notes:
  - Not covered by the SDN lock - the firewall endpoints take no lock token and write the vnet's C(.fw) file at once;
    no SDN rollback undoes them and a lock held by anyone does not stop them. Run the module after
    M(pvefleet.sdn.sdn_apply); M(pvefleet.sdn.sdn_transaction) does so itself
    (O(pvefleet.sdn.sdn_transaction#module:vnet_firewalls)).
  - In check mode the module reads the options and rules and returns the requests it would send (RV(requests)) and the
    list they would make (RV(rules)), writing nothing.
  - Privileges - C(SDN.Audit) on C(/sdn/zones/<zone>/<vnet>) to read the firewall, C(SDN.Allocate) there to change it.
    See R(Least privilege,ansible_collections.pvefleet.sdn.docsite.privileges).
seealso:
  - module: pvefleet.sdn.sdn_vnet
  - module: pvefleet.sdn.sdn_info
"""

EXAMPLES = r"""
- name: Only SSH and HTTPS into the tenant's vnet, the rest dropped
  pvefleet.sdn.sdn_vnet_firewall:
    vnet: tenant1
    enable: true
    policy_forward: DROP
    rules:
      - comment: ssh from the bastion
        action: ACCEPT
        macro: SSH
        source: 192.0.2.10
      - comment: https
        action: ACCEPT
        proto: tcp
        dport: "443"
        dest: 10.10.0.0/24

- name: One more rule, leaving the others (managed elsewhere) where they are
  pvefleet.sdn.sdn_vnet_firewall:
    vnet: tenant1
    exclusive: false
    rules:
      - comment: monitoring
        action: ACCEPT
        proto: tcp
        dport: "9100"
        source: 192.0.2.20
"""

RETURN = r"""
action:
  description: V(update) when something was (or in check mode would be) changed, else V(none).
  returned: always
  type: str
  sample: update
vnet:
  description: The vnet.
  returned: always
  type: str
  sample: tenant1
requests:
  description: The requests sent (or, in check mode, that would be sent), in order, such as C(PUT rules/3 moveto=0).
  returned: always
  type: list
  elements: str
  sample: ["POST rules type=forward action=ACCEPT enable=0 comment=https", "PUT rules/0 moveto=2", "PUT rules/1 enable=1"]
options:
  description: The firewall options set after the change.
  returned: always
  type: dict
  sample: {enable: true, policy_forward: DROP}
rules:
  description: The rules after the change, in order, as module options.
  returned: always
  type: list
  elements: dict
diff:
  description: The options and rules before and after (shown with C(--diff)).
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: C(options) and C(rules) before.
      type: dict
      returned: always
    after:
      description: C(options) and C(rules) after.
      type: dict
      returned: always
"""

from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import CONNECTION, VNET_FIREWALL_OPTIONS, merge  # noqa: E402
from ansible_collections.pvefleet.sdn.plugins.module_utils._module import run_module  # noqa: E402

ARGUMENT_SPEC = merge(CONNECTION, VNET_FIREWALL_OPTIONS)


def main() -> None:
    from ansible_collections.pvefleet.sdn.plugins.module_utils._firewall_task import run_vnet_firewall_task

    run_module(ARGUMENT_SPEC, run_vnet_firewall_task)


if __name__ == "__main__":
    main()
