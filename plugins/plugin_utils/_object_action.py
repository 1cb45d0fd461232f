# Private to pvefleet.sdn: not a public API.
"""The action plugins of the object modules (sdn_zone, sdn_vnet, ..., sdn_route_map): one class, a kind each."""
from __future__ import annotations

from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import OBJECT_OPTIONS, object_argument_spec
from ansible_collections.pvefleet.sdn.plugins.module_utils._client import PveClient
from ansible_collections.pvefleet.sdn.plugins.module_utils._object_task import run_object_task
from ansible_collections.pvefleet.sdn.plugins.module_utils._phases import HOLDING, Phase
from ansible_collections.pvefleet.sdn.plugins.module_utils._resource import KINDS
from ansible_collections.pvefleet.sdn.plugins.module_utils._undo import undo_record
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._transaction_action import TransactionAction


class ObjectAction(TransactionAction):
    """Subclasses name the KIND (a key of _resource.KINDS)."""

    KIND = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.OPTIONS = OBJECT_OPTIONS[cls.KIND]
        cls.ARGSPEC = object_argument_spec(cls.KIND)

    async def execute(self, args: dict) -> dict:
        journal = self.journal(args)
        entry = self.this_run_entry(journal)
        in_transaction = entry.get("phase") in HOLDING and not args.get("lock_token") and not self.check_mode
        options = {name: args.get(name) for name in self.OPTIONS}

        def writing(the_plan) -> None:
            # Recorded before the write leaves: a run stopped during it is rolled back, not only released.
            undo = undo_record(the_plan)
            if undo is not None:
                entry.update(journal.update(self.host, phase=Phase.CHANGED, undo=[*(entry.get("undo") or []), undo]))
            elif entry.get("phase") != Phase.CHANGED:
                entry.update(journal.update(self.host, phase=Phase.CHANGED))

        try:
            # The token goes only to the remote that issued it (identity, _client.py).
            async with PveClient(self.connection_for(args), identity=entry.get("identity") if in_transaction else None) \
                    as client:
                result = await run_object_task(
                    client, self.KIND, options, state=args["state"], purge=args.get("purge", False),
                    lock_token=self.lock_token(args, journal), check_mode=self.check_mode,
                    on_write=writing if in_transaction else None)
        except Exception as exc:
            if in_transaction:
                # apply on the other hosts must see that this remote is not ready
                journal.update(self.host, phase=Phase.FAILED, error=str(exc))
            raise
        if in_transaction and result.get("changed"):
            # What a revert of this transaction would undo (on_apply_failure=revert, _revert.py).
            parent = KINDS[self.KIND].parent
            kept = {key: result[key] for key in ("kind", "action", "id", "diff", parent) if key and key in result}
            entry.update(journal.update(self.host, results=[*(entry.get("results") or []), kept]))
        if not self.diff:
            result.pop("diff", None)
        return result
