# Private to pvefleet.sdn: not a public API.
"""Action plugins that take part in a task-by-task transaction: they find this host's lock token
in the transaction's journal, record how far the host got, and stand in for other hosts of the
transaction where one host acts for all (the apply, the rescue)."""
from __future__ import annotations

from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._journal import Journal, RunId, journal_path
from ansible_collections.pvefleet.sdn.plugins.module_utils._phases import HOLDING
from ansible_collections.pvefleet.sdn.plugins.module_utils._remote import Remote
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._action import SdnAction

# What must be the same as when a remote was locked, for another host to act for it.
_IDENTIFYING = ("api_host", "api_port", "api_user", "api_token_id", "ca_path", "fingerprint", "validate_certs")


class TransactionAction(SdnAction):

    def journal(self, args: dict) -> Journal:
        return Journal(journal_path(args["transaction"], args.get("journal_dir")))

    def this_run_entry(self, journal: Journal, host: str | None = None) -> dict:
        """This (or `host`'s) entry, if this very run of ansible-playbook made it."""
        record = journal.read()
        if record.get("run") != RunId.current().as_dict():
            return {}
        return record.get("remotes", {}).get(host or self.host, {})

    def lock_token(self, args: dict, journal: Journal) -> str | None:
        """The explicit lock_token, else the token this host's transaction holds, else None
        (no transaction: PVE accepts unlocked writes while nobody holds the lock)."""
        if args.get("lock_token"):
            return args["lock_token"]
        entry = self.this_run_entry(journal)
        return entry.get("token") if entry.get("phase") in HOLDING else None

    def recorded_settings(self, args: dict, host: str, entry: dict) -> ConnectionSettings:
        """`host`'s settings as this task works them out, refused where they differ from those its
        journal entry was recorded with: then this task would reach another remote, or the same
        one otherwise, than the one its lock belongs to."""
        settings = self.connection_for(args, host, fallback=entry)
        recorded = {name: entry[name] for name in _IDENTIFYING if name in entry}
        differing = sorted(name for name, value in recorded.items() if settings.public_fields().get(name) != value)
        if differing:
            shown = ", ".join(f"{name}: {settings.public_fields().get(name)!r} here, {recorded[name]!r} when locked"
                              for name in differing)
            raise InvalidInput({host: (
                f"this task's connection settings for {host} differ from those its lock was taken with ({shown}); "
                "give every task of the transaction the same settings (module_defaults for group/pvefleet.sdn.sdn, "
                "or pvefleet_sdn_* host variables)")})
        return settings

    def remote_from_journal(self, args: dict, host: str, entry: dict) -> Remote:
        """A remote of this transaction as its journal entry left it, to act on from this host;
        every change is written back to the journal, with who made it."""
        settings = self.connection_for(args) if host == self.host else self.recorded_settings(args, host, entry)
        remote = Remote.from_entry(host, settings, entry, by=self.host)
        remote.on_change = self._journal_pen(args)
        return remote

    def _journal_pen(self, args: dict):
        journal = self.journal(args)

        def write(remote: Remote, _fields: dict) -> None:
            journal.update(remote.host, **remote.record())

        return write
