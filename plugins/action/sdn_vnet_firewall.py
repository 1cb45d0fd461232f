# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converge one vnet's firewall options and rules (docs: modules/sdn_vnet_firewall.py)."""
from __future__ import annotations

from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import CONNECTION, VNET_FIREWALL_OPTIONS, merge
from ansible_collections.pvefleet.sdn.plugins.module_utils._client import PveClient
from ansible_collections.pvefleet.sdn.plugins.module_utils._firewall_task import run_vnet_firewall_task
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._action import SdnAction


class ActionModule(SdnAction):
    ARGSPEC = merge(CONNECTION, VNET_FIREWALL_OPTIONS)

    async def execute(self, args: dict) -> dict:
        async with PveClient(self.connection_for(args)) as client:
            result = await run_vnet_firewall_task(client, args, self.check_mode)
        if not self.diff:
            result.pop("diff", None)
        return result
