# Private to pvefleet.sdn: not a public API.
"""The action plugins of sdn_zone, sdn_vnet, sdn_subnet and sdn_controller: one class, a kind each."""
from __future__ import annotations

from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import OBJECT_OPTIONS, object_argument_spec
from ansible_collections.pvefleet.sdn.plugins.module_utils._client import PveClient
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import PveFleetError
from ansible_collections.pvefleet.sdn.plugins.module_utils._object_task import run_object_task
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._transaction_action import TOKEN_PHASES, TransactionAction


class ObjectAction(TransactionAction):
    """Subclasses name the KIND (zone, vnet, subnet or controller)."""

    KIND = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.OPTIONS = OBJECT_OPTIONS[cls.KIND]
        cls.ARGSPEC = object_argument_spec(cls.KIND)

    async def execute(self, args: dict) -> dict:
        journal = self.journal(args)
        entry = self.this_run_entry(journal)
        in_transaction = entry.get("phase") in TOKEN_PHASES and not args.get("lock_token")
        options = {name: args.get(name) for name in self.OPTIONS}
        try:
            async with PveClient(self.connection_for(args)) as client:
                result = await run_object_task(
                    client, self.KIND, options, state=args["state"], purge=args["purge"],
                    lock_token=self.lock_token(args, journal), check_mode=self.check_mode)
        except PveFleetError as exc:
            if in_transaction and not self.check_mode:
                # apply on the other hosts must see that this remote is not ready
                journal.update(self.host, phase="failed", error=str(exc))
            raise
        if in_transaction and result["changed"] and not self.check_mode:
            journal.update(self.host, phase="changed")
        if not self.diff:
            result.pop("diff", None)
        return result
