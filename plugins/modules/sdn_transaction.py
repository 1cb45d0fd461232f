#!/usr/bin/python
# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: sdn_transaction
short_description: Change the SDN configuration of many Proxmox VE remotes in one task, all or nothing
version_added: 1.0.0
description:
  - Runs once for the whole play (like M(ansible.builtin.add_host)) and, from the controller, for every remote
    concurrently, does what Proxmox Datacenter Manager does for a multi-remote SDN change
  - 1. checks every desired object against its type's rules, and that no object is given twice with different
    options, before anything is sent;
  - 2. preflight, read-only, on every remote at once - the remote answers, its certificate is trusted, the
    credentials work, it runs Proxmox VE 9 or newer (the SDN lock API), and every change is planned against its
    objects as they are (a vnet in a zone that exists nowhere, a tag its zone's type forbids); then the change is
    checked against every remote of the transaction at once (O(consistency) - a VNI, VRF VNI, ASN, route target or
    vnet name that would clash across remotes); if anything is wrong anywhere, nothing is locked;
  - 3. locks the SDN configuration of every remote - the first remote of a fixed order (by address) alone, then
    the others at once, so that of two transactions over the same remotes started together exactly one goes on;
    if one lock fails, the locks taken are released (and with O(lock_wait), taken again later);
  - 4. creates, updates or removes the objects on every remote (IPAM plugins, DNS plugins, prefix lists, route maps,
    fabrics, fabric nodes, controllers, zones, vnets, subnets in that order, so that what an object names exists
    before it; removals in the reverse order); if anything fails, every remote is rolled back and released. IPAM and
    DNS plugins are written at once by Proxmox VE, not into the pending configuration, so its rollback does not undo
    them; the transaction records how to undo each before writing it and, when it rolls back, undoes them itself
    (listed under C(unwind.undone)), still under the lock;
  - 5. checks that every lock is still held by this transaction (Proxmox VE accepts any token while no lock is
    held, so a lock force-released meanwhile would otherwise go unnoticed); if not, every remote is rolled back;
  - 6. applies on every remote, follows every reload task and checks every node's zone status (Proxmox VE's
    C(reloadnetworkall) task ends OK even when a node failed). Once Proxmox VE has accepted an apply there is no
    rollback; the result lists the remotes that failed, with their errors and what to check, apart from those that
    succeeded. A remote whose reload could not be followed to its end is reported V(apply_unknown), never rolled
    back.
  - 7. after the apply, on every remote that applied (or had nothing to apply), writes the vnet firewalls and IP
    mappings (O(vnet_firewalls), O(vnet_ips)), which Proxmox VE keeps outside the SDN lock and its pending
    configuration.
  - Remotes with nothing pending are not applied; their lock is released. A second run with the same options
    changes nothing.
  - SIGINT or SIGTERM before applying rolls back and releases every remote locked so far.
  - Every step is recorded in the transaction's journal on the controller, so that M(pvefleet.sdn.sdn_lock) with
    O(pvefleet.sdn.sdn_lock#module:state=rolled_back) (or the playbook C(pvefleet.sdn.recover)) can clean up after
    a controller that was killed.
author:
  - pvefleet developers (@pvefleet)
options:
  remotes:
    description:
      - The inventory hosts (remotes) of the transaction. Defaults to every host of the play.
      - Each remote's connection settings are those its own task would have - this task's connection options and
        C(module_defaults), templated with that host's variables, then its host variables (C(pvefleet_sdn_api_host),
        ...), then the E(PROXMOX_*) environment variables. Where an option's template cannot be worked out for every
        host the same way Ansible does, the task fails before anything is sent, naming the option.
      - Every name must be an inventory host.
    type: list
    elements: str
  ipams:
    description:
      - IPAM plugins for every remote, each a dict of M(pvefleet.sdn.sdn_ipam) options plus C(state) and C(purge).
      - Not covered by Proxmox VE's rollback (see step 4); undone by compensating writes when the transaction rolls
        back.
    type: list
    elements: dict
    default: []
  dns_plugins:
    description:
      - DNS plugins for every remote, each a dict of M(pvefleet.sdn.sdn_dns) options plus C(state) and C(purge).
      - Not covered by Proxmox VE's rollback (see step 4); undone by compensating writes when the transaction rolls
        back.
    type: list
    elements: dict
    default: []
  prefix_lists:
    description:
      - Prefix lists for every remote (Proxmox VE 9.2 or newer), each a dict of M(pvefleet.sdn.sdn_prefix_list) options
        plus C(state) and C(purge).
    type: list
    elements: dict
    default: []
  route_maps:
    description:
      - Route maps for every remote (Proxmox VE 9.2 or newer), each a dict of M(pvefleet.sdn.sdn_route_map) options
        plus C(state).
    type: list
    elements: dict
    default: []
  fabrics:
    description: Fabrics for every remote, each a dict of M(pvefleet.sdn.sdn_fabric) options plus C(state) and C(purge).
    type: list
    elements: dict
    default: []
  fabric_nodes:
    description:
      - Fabric nodes for every remote, each a dict of M(pvefleet.sdn.sdn_fabric_node) options plus C(state) and
        C(purge).
    type: list
    elements: dict
    default: []
  controllers:
    description: Controllers for every remote, each a dict of M(pvefleet.sdn.sdn_controller) options plus C(state) and C(purge).
    type: list
    elements: dict
    default: []
  zones:
    description: Zones for every remote, each a dict of M(pvefleet.sdn.sdn_zone) options plus C(state) and C(purge).
    type: list
    elements: dict
    default: []
  vnets:
    description: Vnets for every remote, each a dict of M(pvefleet.sdn.sdn_vnet) options plus C(state) and C(purge).
    type: list
    elements: dict
    default: []
  subnets:
    description: Subnets for every remote, each a dict of M(pvefleet.sdn.sdn_subnet) options plus C(state) and C(purge).
    type: list
    elements: dict
    default: []
  vnet_firewalls:
    description:
      - Vnet firewalls for every remote, each a dict of M(pvefleet.sdn.sdn_vnet_firewall) options.
      - Not covered by the SDN lock (Proxmox VE's firewall endpoints take no lock token, write at once and need the
        vnet applied) - written after the apply, on every remote that applied or had nothing to apply, and never
        rolled back. A failure there fails that remote, with what was written and how to finish; its SDN change stays
        applied. Checked against the module's rules before anything is sent; not written in O(mode=plan) or check mode.
    type: list
    elements: dict
    default: []
    version_added: 1.2.0
  vnet_ips:
    description:
      - Vnet IP mappings for every remote, each a dict of M(pvefleet.sdn.sdn_vnet_ip) options.
      - Like O(vnet_firewalls) - written after the apply (after the firewalls), outside the lock, never rolled back.
    type: list
    elements: dict
    default: []
    version_added: 1.2.0
  remote_objects:
    description:
      - Objects for single remotes, keyed by inventory host; each value a dict with the keys C(ipams),
        C(dns_plugins), C(prefix_lists), C(route_maps), C(fabrics), C(fabric_nodes), C(controllers), C(zones),
        C(vnets), C(subnets), C(vnet_firewalls) and C(vnet_ips), added to the objects for every remote (a fabric
        node's addresses differ from remote to remote, for instance).
      - Every key must be a remote of the transaction. An object given twice (here and for every remote) must be
        given alike.
    type: dict
    default: {}
  concurrency:
    description:
      - How many remotes are worked on at the same time in each phase (lock, change, lock check, apply request,
        rollback or release).
      - Waiting for the reload tasks takes no slot, so every remote's reload runs at once whatever this is.
      - Each remote keeps at most two HTTPS connections open. The transaction raises its own limit of open
        files (C(ulimit -n)) to the hard limit when it needs more.
    type: int
    default: 256
  allow_pending:
    description:
      - Take the lock even if a remote has pending changes made by someone else. They are applied too.
    type: bool
    default: false
  lock_wait:
    description:
      - Seconds to keep trying when another client holds the lock of a remote (another transaction, Proxmox
        Datacenter Manager). Each try lets go of every lock it took before the next, so two transactions that wait
        for each other cannot deadlock.
      - V(0) (the default) fails at once, releasing the locks taken.
    type: float
    default: 0
  apply_timeout:
    description: Seconds to wait for each remote's reload to finish on every node.
    type: float
    default: 600
  check_nodes:
    description: After the reload task, wait until no zone of any node is C(pending), and fail a remote on which one is in C(error).
    type: bool
    default: true
  on_apply_failure:
    description:
      - What to do when the apply or a reload fails on some remotes, after others committed.
      - V(report) (the default) reports each remote, as described above; Proxmox VE has no rollback once it committed.
      - V(revert) then runs a second transaction, the inverse of this one, over every remote that committed - it locks
        them, deletes what this one created, creates what it deleted, puts back the options it changed (as this
        transaction read them under its lock), applies and follows every reload. It is all or nothing too - if it
        fails before its apply, it is rolled back everywhere and every remote keeps this transaction's change.
      - A remote whose running configuration no longer holds what this transaction committed (someone changed it
        since) is not reverted, and reported as V(changed_since).
      - RV(remotes) tells per remote in C(revert.state) - V(reverted), V(revert_failed) (with C(error) and
        C(recovery)), V(changed_since) or V(not_committed). The revert's own record is the transaction
        C(<transaction>-revert); C(pvefleet.sdn.recover) with that name cleans up after a revert that was killed.
    type: str
    choices: [report, revert]
    default: report
    version_added: 1.1.0
  mode:
    description:
      - V(apply) (the default) applies the change everywhere, as described above.
      - V(plan) does everything up to the apply - the locks, the writes, the lock check - then asks every node of every
        remote that has changes what it would get (Proxmox VE's dry-run of the pending configuration, pve-network
        1.3.0 or newer), and rolls back and releases every remote. This is the exact plan of the change, node by
        node, and it leaves nothing locked or pending. The remotes end in phase V(previewed); RV(preview) has the
        diffs.
      - Check mode takes no lock and writes nothing, so it cannot show what the nodes would get (nothing is pending
        to preview); V(plan) can, and needs the change token.
    type: str
    choices: [apply, plan]
    default: apply
    version_added: 1.1.0
  consistency:
    description:
      - After every remote's preflight and before any lock, check the change against every remote of the transaction
        at once, each as the apply will leave it - its zones, vnets and controllers in the pending view (the changes
        not applied yet included, since the apply commits them too), with this transaction's changes laid over. That
        is three more requests per remote, in one round; none when the change creates or updates no zone, vnet or
        controller.
      - The rules (O(allow) names them) - V(vni), a vnet's VNI (its tag in a vxlan or evpn zone) that a vnet of
        another name has; V(vrf_vni), an evpn zone's VRF VNI (C(vrf_vxlan)) that a zone of another name has, or that
        is also a vnet's VNI; V(asn), the controllers of one evpn zone (zones of one VRF VNI on several remotes) with
        different ASNs, unless every one of them has C(bgp_mode=external); V(route_target), an evpn zone importing
        (C(rt_import)) the route target C(ASN:VRF-VNI) of a zone of another VRF VNI; V(vnet), one vnet name with
        different tags, or in zones of different types, on different remotes.
      - Only a clash that involves an object this transaction creates or updates (or the zone of a vnet, the controller
        of an evpn zone) counts; one the fleet already had is left alone. A clash fails the task before any lock,
        naming the rule, the value, the objects and the remotes. Check mode fails the same way, since the transaction
        would refuse.
      - The fleet is the remotes of the transaction; remotes that are not in it are not seen (M(pvefleet.sdn.sdn_fleet_info)
        reads any group of remotes).
      - In the role M(pvefleet.sdn.sdn_transaction), its preflight task runs this check (C(sdn_transaction_preflight));
        M(pvefleet.sdn.sdn_lock) does not.
      - See R(Know the fleet,ansible_collections.pvefleet.sdn.docsite.fleet_view.consistency) for each rule and the
        fact behind it.
      - V(false) leaves the check out.
    type: bool
    default: true
    version_added: 1.1.0
  allow:
    description:
      - "Clashes of the consistency check (O(consistency)) to accept, as the error names them - for instance
        C({rule: vni, value: 11000}) for a VNI meant to join two vnets of different names."
    type: list
    elements: dict
    default: []
    version_added: 1.1.0
    suboptions:
      rule:
        description: The rule.
        type: str
        required: true
        choices: [vni, vrf_vni, asn, route_target, vnet]
      value:
        description:
          - The value the clash is about - the VNI (V(vni)), the VRF VNI (V(vrf_vni) and V(asn)), the route target such
            as V(65000:10000) (V(route_target)), the vnet's name (V(vnet)); compared as text.
          - Left out, every clash of the rule is accepted.
        type: raw
  transaction:
    description: Name of the transaction's record on the controller.
    type: str
    default: default
  journal_dir:
    description:
      - Directory of the transaction records (mode 0600 files). Point it at persistent storage under AWX.
      - Falls back to E(PVEFLEET_SDN_JOURNAL_DIR); C(~/.ansible/pvefleet_sdn) when none is set.
    type: path
extends_documentation_fragment:
  - pvefleet.sdn.connection
  - pvefleet.sdn.attributes.action_group
attributes:
  check_mode:
    description: Takes no lock and changes nothing; reports per remote what would change.
    support: full
  diff_mode:
    description:
      - With C(--diff), RV(diff) lists the before and after of every object that changes, on every remote, and
        Ansible shows them; each remote's object results carry them too.
      - With C(--diff) (and in O(mode=plan)), before applying, every node of every remote with changes is asked for
        the diff of its C(/etc/network/interfaces.d/sdn) and C(/etc/frr/frr.conf) under the pending configuration;
        C(--diff) shows them too, one per node and file, and RV(preview) has them. A remote too old for a dry-run,
        or whose token lacks C(Sys.Audit) on C(/nodes/<node>), says so and goes on.
    support: full
  bypass_host_loop:
    description: Runs once for all the hosts of the play batch.
    support: full
  idempotent:
    description: A second run with the same options changes nothing and applies nothing.
    support: full
notes:
  - One task can only fail the host it ran on (the first of the play), whatever remote failed; so that the play recap
    and AWX's host summary name the remotes that did not succeed, run it with C(run_once) (which registers its
    result on every host) and C(failed_when) false, and fail each host from RV(remotes) in the next task, as the
    collection's example C(docs/examples/transaction_fleet.yml) does.
  - Privileges - C(SDN.Allocate) on C(/sdn) (lock, apply, rollback) and on the path of each write (C(/sdn/zones) to
    create a zone, C(/sdn/zones/<zone>) to change one or to create a vnet in it, C(/sdn/zones/<zone>/<vnet>) for a
    vnet's changes and its subnets, C(/sdn/controllers) for controllers). Its preflight asks each remote for the
    token's own privileges and fails, before any lock, naming the remote, the privilege and the path; in a C(--check)
    run that is a warning, and check mode otherwise works with an audit token (C(PVEAuditor)). See the collection's
    guide, R(Least privilege,ansible_collections.pvefleet.sdn.docsite.privileges) (docs/docsite/rst/privileges.rst),
    for a least-privilege role and tokens.
  - Do not use C(serial) on the play; the task refuses to run on one batch of a split play.
  - The task fails when any remote failed; the result still lists every remote.
seealso:
  - module: pvefleet.sdn.sdn_lock
  - name: The role pvefleet.sdn.sdn_transaction
    description: The same guarantees, task by task.
    link: https://github.com/pvefleet/sdn/blob/main/roles/sdn_transaction/README.md
"""

EXAMPLES = r"""
- name: An EVPN zone and vnet on every remote, each with its own controller
  hosts: remotes
  gather_facts: false
  tasks:
    - name: One transaction over the whole fleet
      pvefleet.sdn.sdn_transaction:
        zones:
          - zone: evpn1
            type: evpn
            controller: evpnctl
            vrf_vxlan: 10000
        vnets:
          - vnet: vnet1
            zone: evpn1
            tag: 11000
        remote_objects:
          pve-east:
            controllers:
              - {controller: evpnctl, type: evpn, asn: 65000, peers: [10.1.0.1, 10.1.0.2]}
          pve-west:
            controllers:
              - {controller: evpnctl, type: evpn, asn: 65000, peers: [10.2.0.1, 10.2.0.2]}
        concurrency: 100
      register: fleet

    # The task runs once for the play: its result is registered on the first host only.
    - name: Show the summary table
      ansible.builtin.debug:
        var: fleet.summary
      run_once: true

- name: Remove the vnet everywhere
  hosts: remotes
  gather_facts: false
  tasks:
    - name: One transaction that removes the vnet from every remote
      pvefleet.sdn.sdn_transaction:
        vnets:
          - vnet: vnet1
            state: absent
"""

RETURN = r"""
preview:
  description:
    - What each node of each remote with changes would get, asked before applying (C(--diff) or O(mode=plan)).
  returned: when previewed
  type: dict
  version_added: 1.1.0
  contains:
    summary:
      description: "One line, such as C(4 node(s) on 2 remote(s): FRR changes on 4, interfaces on 2)."
      type: str
      returned: always
    remotes:
      description:
        - Per inventory host, C(nodes) (per node, C(interfaces) and C(frr), each Proxmox VE's unified diff of that file,
          or null when it does not change), or C(unavailable) and the reason.
      type: dict
      returned: always
clashes:
  description:
    - When the consistency check (O(consistency)) refused the change, each clash - C(rule), C(value), C(remotes) (every
      remote it involves) and C(message). Nothing was locked.
  returned: when the consistency check refused the change
  type: list
  elements: dict
  version_added: 1.1.0
  sample: [{rule: vni, value: 11000, remotes: [remote001, remote002], message: "VNI 11000 is the tag of vnet vnet1 ..."}]
ok:
  description: Whether every remote succeeded.
  returned: always
  type: bool
remotes:
  description:
    - Per remote (inventory host), a short outcome - C(ok), C(phase), C(changed), C(remote) (its address), and
      where they apply C(error) and C(recovery) - for a per-host task to report each remote as Ansible's own.
    - With O(on_apply_failure=revert) after a failed apply, C(revert) too - C(state) (V(reverted), V(revert_failed),
      V(changed_since), V(not_committed)) and, where it applies, C(error) and C(recovery).
  returned: always
  type: dict
  sample: {remote001: {ok: true, phase: applied, changed: true, remote: "192.0.2.10:8006"}}
diff:
  description: With C(--diff), the before and after of every object that changes, one entry per remote and object.
  returned: in diff mode
  type: list
  elements: dict
missing_privileges:
  description: Per remote, the privileges its API token lacks for this change (C(SDN.Allocate on /sdn), ...).
  returned: always
  type: dict
report_file:
  description:
    - When the per-object detail of every remote is large (over 64 KiB), the file beside the journal that holds it
      (mode 0600); C(failed_remotes) and C(succeeded_remotes) then leave out C(objects).
  returned: when the detail is large
  type: str
counts:
  description:
    - How many remotes ended in each phase - V(applied), V(unchanged), V(checked) (check mode), V(previewed)
      (O(mode=plan)), V(rolled_back),
      V(released), V(not_locked), V(lock_failed), V(lock_lost), V(apply_failed), V(apply_unknown), V(stuck), ...
  returned: always
  type: dict
  sample: {applied: 99, apply_failed: 1}
failed_remotes:
  description:
    - The remotes that did not succeed, sorted by host, each with C(host), C(remote), C(phase), C(error),
      C(recovery) (what to do when something is left locked or pending), C(objects), C(apply) and C(unwind).
    - C(outside_rollback) lists the writes of that remote that Proxmox VE's rollback does not undo (IPAM and DNS
      plugins, undone by compensating writes; vnet firewalls and IP mappings, written after the apply), in check
      mode too; C(after_error) says why the writes after the apply stopped.
  returned: always
  type: list
  elements: dict
succeeded_remotes:
  description: The remotes that succeeded, sorted by host, with the same keys.
  returned: always
  type: list
  elements: dict
timings:
  description: Seconds each phase took (preflight, lock, change, verify, apply, rollback).
  returned: always
  type: dict
summary:
  description: A table with a line per remote, failures first, for a log.
  returned: always
  type: list
  elements: str
"""
