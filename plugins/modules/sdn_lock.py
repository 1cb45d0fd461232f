#!/usr/bin/python
# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# Documentation only: the action plugin of the same name does the work on the controller, so
# that the lock token stays in the transaction's journal and never travels in a module result.

DOCUMENTATION = r"""
module: sdn_lock
short_description: Take, release or roll back the SDN lock of Proxmox VE remotes as one transaction
version_added: 1.0.0
description:
  - Proxmox VE 9 has a global SDN lock - while it is held, every SDN write must carry its token.
  - V(locked) takes the lock of this host's remote and records its token in the transaction's journal on the
    controller (a file of mode 0600); later M(pvefleet.sdn.sdn_zone), M(pvefleet.sdn.sdn_vnet),
    M(pvefleet.sdn.sdn_subnet), M(pvefleet.sdn.sdn_controller) and M(pvefleet.sdn.sdn_apply) tasks of the same run
    find it there. The token is never shown, returned or logged.
  - V(locked) first has every remote of the transaction checked, read-only, by the first host that gets there - it
    answers, its certificate is trusted, the credentials work, it runs Proxmox VE 9 or newer - and no host takes a
    lock if one fails. The remote's address and certificate are recorded with the token, and the token is only ever
    sent to that remote again.
  - V(rolled_back) discards the pending changes and releases the lock on this host's remote B(and on every other
    remote of the transaction) that is still locked, each exactly once, however many hosts run the task at the same
    time, each with that remote's own connection settings. A remote whose lock is gone is not rolled back (Proxmox VE
    would accept the stale token and drop others' changes) but reported. If a rollback fails, a plain release is
    tried, and the result says, for every remote of the transaction, which state it is left in, which host did it,
    and how to recover it. Put it in the C(rescue) of the transaction's block.
  - Run after a run that died (the playbook C(pvefleet.sdn.recover)), V(rolled_back) also settles the remotes that
    run was applying. A remote still locked never committed, and is rolled back; a remote with its lock free and
    nothing pending committed, and is recorded as V(apply_unknown) (with how to check its reload); for any other, the
    result says what is left.
  - V(released) releases the lock without discarding the pending changes; with O(force=true), whoever holds it.
  - Several remotes in one transaction need the block to have C(any_errors_fatal) and a C(rescue), or else a failure
    on one remote would let the others apply; the task refuses to lock otherwise, and refuses when C(serial) splits
    the play into batches. Both are checked before any lock is taken.
  - If ansible-playbook stops between tasks (SIGINT, SIGTERM), a watchdog process rolls back and releases the remotes
    the run left locked (see O(release_on_exit)). After a SIGKILL of the controller, run the playbook
    C(pvefleet.sdn.recover).
author:
  - pvefleet developers (@pvefleet)
options:
  state:
    description: What to do with the lock.
    type: str
    choices: [locked, released, rolled_back]
    default: locked
  allow_pending:
    description:
      - Take the lock even though the remote has pending changes (made by someone else before). They become part
        of the transaction and are applied with it.
    type: bool
    default: false
  force:
    description:
      - With V(released), free the lock whoever holds it.
      - With V(rolled_back) and no record of the transaction, free the lock whoever holds it and discard the pending
        changes. Use only when no other client (another run, Proxmox Datacenter Manager) may be using the lock.
      - With V(rolled_back) and a record made by a run on another controller (an earlier AWX job's container, whose
        process cannot be checked from here), treat that run as gone and recover its remotes.
    type: bool
    default: false
  release_on_exit:
    description:
      - Roll back and release this remote if ansible-playbook ends while the transaction still holds its lock
        (a run stopped by SIGINT or SIGTERM, or a playbook that never applies).
      - Set to V(false) to keep a lock across playbook runs on purpose.
    type: bool
    default: true
extends_documentation_fragment:
  - pvefleet.sdn.connection
  - pvefleet.sdn.attributes.action_group
  - pvefleet.sdn.lock
attributes:
  check_mode:
    description: Takes no lock and changes nothing; V(locked) reports whether the lock is free now.
    support: full
  idempotent:
    description:
      - V(locked) reports no change - the lock is taken and released within the transaction, whose changes and apply
        report what changed.
    support: full
  diff_mode:
    description: There is nothing to diff.
    support: none
notes:
  - Privileges - C(SDN.Allocate) on C(/sdn) for every state (Proxmox VE checks the lock, its release and the rollback
    there); check mode's probe of the lock needs it too, and reports the lock V(unknown) without it. The preflight of
    V(locked) checks the token has it on every remote before any lock is taken. See the collection's guide,
    R(Least privilege,ansible_collections.pvefleet.sdn.docsite.privileges) (docs/docsite/rst/privileges.rst), for a
    least-privilege role and tokens.
  - Proxmox VE does not release the lock on rollback or apply unless told to; this collection always asks it to.
  - Proxmox VE accepts any token while no lock is held, so a lock force-released under a transaction is not noticed by
    its writes; M(pvefleet.sdn.sdn_apply) checks every lock of the transaction before any remote applies.
seealso:
  - module: pvefleet.sdn.sdn_apply
  - module: pvefleet.sdn.sdn_transaction
"""

EXAMPLES = r"""
- name: An EVPN zone on every remote, all or nothing
  hosts: remotes
  gather_facts: false
  tasks:
    - name: Transaction
      any_errors_fatal: true
      block:
        - name: Lock every remote
          pvefleet.sdn.sdn_lock:
            state: locked
        - name: Zone
          pvefleet.sdn.sdn_zone:
            zone: evpn1
            type: evpn
            controller: evpnctl
            vrf_vxlan: 10000
        - name: Apply everywhere
          pvefleet.sdn.sdn_apply:
      rescue:
        - name: Roll back and release every remote of the transaction
          pvefleet.sdn.sdn_lock:
            state: rolled_back
          register: rollback
        # A rescue that succeeds marks the play as successful: fail it, with the cause.
        - name: Fail the play
          ansible.builtin.fail:
            msg: "the SDN transaction was rolled back: {{ rollback.msg }}"

- name: Free a lock left by a client that died
  hosts: remote002
  gather_facts: false
  tasks:
    - name: Force-release the SDN lock, whoever holds it
      pvefleet.sdn.sdn_lock:
        state: released
        force: true
"""

RETURN = r"""
locked:
  description: Whether the lock was taken (V(locked)).
  returned: when state is locked
  type: bool
lock_free:
  description: In check mode, whether the lock could be taken now.
  returned: when state is locked, in check mode
  type: bool
transaction:
  description: The name of the transaction.
  returned: when state is locked
  type: str
  sample: default
journal:
  description: The path of the transaction's record on the controller.
  returned: when state is locked
  type: str
released:
  description: Whether a lock was released.
  returned: when state is released
  type: bool
remotes:
  description:
    - Every remote (inventory host) of the transaction, the same on every host once the remotes other hosts were
      rolling back are done - C(state) (its phase now - V(rolled_back), V(released), V(not_locked), V(lock_lost),
      V(stuck), V(applied), ...; V(waiting) for one left to its own host's task), C(by) (the host that acted on it),
      and where they apply C(error), C(recovery) (what to do by hand) and C(unwind).
  returned: when state is rolled_back
  type: dict
by_this_host:
  description: The remotes this host rolled back, sorted.
  returned: when state is rolled_back
  type: list
  elements: str
failed_remotes:
  description: The remotes left V(stuck), V(lock_lost) or V(lock_unknown), sorted; the task fails if there are any.
  returned: when state is rolled_back
  type: list
  elements: str
cause:
  description: The errors the remotes of the transaction recorded, by host - why it is being rolled back.
  returned: when state is rolled_back
  type: dict
"""
