#!/usr/bin/python
# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# Documentation only: the action plugin of the same name does the work on the controller.

DOCUMENTATION = r"""
module: sdn_apply
short_description: Apply the pending SDN configuration of a Proxmox VE remote and wait for every node
version_added: 1.0.0
description:
  - Commits the remote's pending SDN configuration, releasing the lock of the transaction in the same call, follows
    the C(reloadnetworkall) task to its end, then waits until every node's zones have left C(pending). Proxmox VE's
    task ends OK even when a node failed to reload, so the per-node check is what tells.
  - Nothing pending means nothing is applied (C(changed=false)); the lock is released.
  - Inside a transaction opened by M(pvefleet.sdn.sdn_lock), it first checks that every remote of the transaction is
    still locked by it, and refuses to apply anywhere if a lock was lost or another remote of the transaction failed.
    It also refuses a multi-remote transaction not protected by C(any_errors_fatal) and a C(rescue), or split by
    C(serial).
  - Inside a transaction, the first host to run the task checks and applies every remote of the transaction at once
    (as Proxmox Datacenter Manager does), so the apply takes one reload's time whatever C(forks) is; each host's task
    then reports its own remote's result (RV(applied_by) names the host that applied). If the apply request of a
    remote fails, that remote is rolled back and released, and the failure reported.
  - Once a remote has started applying, there is no rollback; the result says what happened on each node.
  - Without a transaction, the remote is applied unlocked, as Proxmox VE allows while nobody holds the lock.
author:
  - pvefleet developers (@pvefleet)
options:
  timeout:
    description: Seconds to wait for the reload task and for every node.
    type: float
    default: 600
  check_nodes:
    description: Wait for every node's zones to leave C(pending), and fail if one is in C(error) or its reload failed.
    type: bool
    default: true
  on_apply_failure:
    description:
      - In a transaction of this run, what to do when the apply or a reload fails on some remotes after others
        committed - V(report) (the default), or V(revert) - the remotes that committed get the inverse of the
        transaction's changes (recorded by each object task), as a second transaction; see
        M(pvefleet.sdn.sdn_transaction)'s O(pvefleet.sdn.sdn_transaction#module:on_apply_failure). Each host's result
        has C(revert) then.
    type: str
    choices: [report, revert]
    default: report
    version_added: 1.1.0
  preview:
    description:
      - Apply nothing; instead ask every node of the remote what it would get from the pending configuration
        (Proxmox VE's dry-run, pve-network 1.3.0 or newer) and return it in RV(preview) (and in C(--diff)).
      - The confirm gate of the task-by-task style - the lock stays held, so a play can C(pause) or C(assert) on the
        previews, then apply with a second M(pvefleet.sdn.sdn_apply) task (or roll back in its C(rescue)).
      - Needs C(Sys.Audit) on C(/nodes/<node>); without it (or on an older remote) RV(preview) says why there is none.
    type: bool
    default: false
    version_added: 1.1.0
extends_documentation_fragment:
  - pvefleet.sdn.connection
  - pvefleet.sdn.attributes.action_group
  - pvefleet.sdn.lock
attributes:
  check_mode:
    description: Applies nothing; reports what is pending.
    support: full
  diff_mode:
    description: There is nothing to diff; RV(pending) lists what an apply changes.
    support: none
notes:
  - Privileges - C(SDN.Allocate) on C(/sdn) to apply; none to follow the reload task, which the token owns, or to read
    each node's zone status (O(check_nodes)). See the collection's guide, R(Least privilege,ansible_collections.pvefleet.sdn.docsite.privileges)
    (docs/docsite/rst/privileges.rst), for a least-privilege role and tokens.
seealso:
  - module: pvefleet.sdn.sdn_lock
  - module: pvefleet.sdn.sdn_info
"""

EXAMPLES = r"""
- name: Apply and wait for every node
  pvefleet.sdn.sdn_apply:
    timeout: 300
  register: applied

- name: Show each node's result
  ansible.builtin.debug:
    var: applied.nodes
"""

RETURN = r"""
revert:
  description:
    - With O(on_apply_failure=revert), after an apply that failed somewhere in the transaction, what the revert did to
      this host's remote - C(state) (V(reverted), V(revert_failed), V(changed_since), V(not_committed)), and where it
      applies C(error) and C(recovery).
  returned: when a revert ran
  type: dict
  version_added: 1.1.0
preview:
  description:
    - With O(preview), per node (C(nodes)) the unified diffs of its C(interfaces) (C(/etc/network/interfaces.d/sdn))
      and C(frr) (C(/etc/frr/frr.conf)) files, null where a file does not change; or C(unavailable) and why.
  returned: when O(preview) is set
  type: dict
  version_added: 1.1.0
changed:
  description: Whether an apply was committed on this remote (whatever its reload did afterwards).
  returned: always
  type: bool
applied:
  description: The same as RV(changed) - whether an apply was committed.
  returned: always
  type: bool
ok:
  description: Whether this remote ended as it should - applied with every node reloaded, or nothing to apply.
  returned: always
  type: bool
phase:
  description:
    - What became of the remote - V(applied), V(unchanged) (nothing to apply, lock released), V(apply_failed) (the
      reload failed on a node), V(apply_unknown) (committed, the reload's result unknown), V(rolled_back) (the apply
      request failed and the remote was rolled back), V(lock_lost) or V(stuck); V(planned) in check mode.
  returned: always
  type: str
  sample: applied
pending:
  description: What was pending before the apply, such as C(vnet vnet1 (new)).
  returned: always
  type: list
  elements: str
upid:
  description: The ID of the C(reloadnetworkall) task; null when nothing was applied.
  returned: always
  type: str
node:
  description: The node that ran the C(reloadnetworkall) task; null when nothing was applied.
  returned: always
  type: str
exitstatus:
  description: The exit status of the C(reloadnetworkall) task (C(OK), C(WARNINGS, n) or an error); null when unknown.
  returned: always
  type: str
task_duration:
  description: Seconds the reload task took; null when unknown.
  returned: always
  type: float
nodes:
  description: Per node, C(ok), C(pending) (the timeout ran out) or C(error, ...); empty when not checked.
  returned: always
  type: dict
  sample: {pve1: ok, pve2: "error: network reload failed: command 'ifreload -a' failed: exit code 1"}
duration:
  description: Seconds from the apply request until every node was checked; null when nothing was applied.
  returned: always
  type: float
applied_by:
  description: The host whose task applied this remote (inside a transaction, the one that applied every remote).
  returned: always
  type: str
  sample: remote001
error:
  description: Why the apply failed on this remote.
  returned: when it failed
  type: str
recovery:
  description: What to check or do by hand, when the remote is not as it should be.
  returned: when it failed
  type: str
unwind:
  description: When the apply request failed and the remote was rolled back, what the rollback did.
  returned: when the apply request failed
  type: dict
log_tail:
  description: The last lines of the reload task's log, when it failed.
  returned: when the reload task failed
  type: list
  elements: str
"""
