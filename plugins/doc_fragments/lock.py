# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # The transaction's lock token and record; mirrors _argspec.LOCK_TOKEN and _argspec.JOURNAL.
    DOCUMENTATION = r"""
options:
  lock_token:
    description:
      - The SDN lock token to send with every write (PVE's C(lock-token)).
      - Normally left out; the token of the transaction that M(pvefleet.sdn.sdn_lock) opened for this host is used.
      - While a remote's lock is held, writes without the right token are refused by Proxmox VE.
      - Without a lock (and without a transaction) the change is made unlocked, as Proxmox VE allows.
    type: str
  transaction:
    description:
      - Name of the transaction whose record holds this host's lock token.
      - Use different names for playbooks that run at the same time on one controller.
    type: str
    default: default
  journal_dir:
    description:
      - Directory of the transaction records on the controller (one file per transaction, mode 0600).
      - Point it at persistent storage when the controller may be killed (AWX drops a job's container).
      - Falls back to E(PVEFLEET_SDN_JOURNAL_DIR); C(~/.ansible/pvefleet_sdn) when none is set.
    type: path
"""
