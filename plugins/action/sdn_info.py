# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read a remote's SDN configuration and lock state (docs: modules/sdn_info.py)."""
from __future__ import annotations

from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import CONNECTION, INFO_OPTIONS, merge
from ansible_collections.pvefleet.sdn.plugins.module_utils._client import PveClient
from ansible_collections.pvefleet.sdn.plugins.module_utils._info_task import run_info_task
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._action import SdnAction


class ActionModule(SdnAction):
    ARGSPEC = merge(CONNECTION, INFO_OPTIONS)

    async def execute(self, args: dict) -> dict:
        async with PveClient(self.connection_for(args)) as client:
            return await run_info_task(client, args, self.check_mode)
