# Private to pvefleet.sdn: not a public API.
"""Action plugins that take part in a task-by-task transaction: they find this host's lock token
in the transaction's journal and record how far the host got."""
from __future__ import annotations

from ansible_collections.pvefleet.sdn.plugins.module_utils._journal import Journal, RunId, journal_path
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._action import SdnAction

# Phases in which this host's record holds a lock token that later tasks must send.
TOKEN_PHASES = frozenset({"locked", "changed"})


class TransactionAction(SdnAction):

    def journal(self, args: dict) -> Journal:
        return Journal(journal_path(args["transaction"], args.get("journal_dir")))

    def this_run_entry(self, journal: Journal) -> dict:
        """This host's entry, if this very run of ansible-playbook made it."""
        record = journal.read()
        if record.get("run") != RunId.current().as_dict():
            return {}
        return record.get("remotes", {}).get(self.host, {})

    def lock_token(self, args: dict, journal: Journal) -> str | None:
        """The explicit lock_token, else the token this host's transaction holds, else None
        (no transaction: PVE accepts unlocked writes while nobody holds the lock)."""
        if args.get("lock_token"):
            return args["lock_token"]
        entry = self.this_run_entry(journal)
        return entry.get("token") if entry.get("phase") in TOKEN_PHASES else None
