# Private to pvefleet.sdn: not a public API.
"""The edge for modules run as modules (the action plugins normally run the same core in-process)."""
from __future__ import annotations

import asyncio

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import (
    CONNECTION,
    CONNECTION_DEFAULTS,
    OBJECT_OPTIONS,
    object_argument_spec,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._deps import require_deps
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import PveFleetError


def run_module(argument_spec: dict, task) -> None:
    """Parse the options, run `await task(client, params, check_mode)`, exit with its result."""
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        require_deps()
        # Imported here: they need httptools, which require_deps has just checked for.
        from ansible_collections.pvefleet.sdn.plugins.module_utils._client import PveClient
        from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings

        params = {name: module.params.get(name) for name in CONNECTION}
        params.update({k: v for k, v in CONNECTION_DEFAULTS.items() if params.get(k) is None})
        settings = ConnectionSettings.from_params(params)

        async def run() -> dict:
            async with PveClient(settings) as client:
                return await task(client, module.params, module.check_mode)

        result = asyncio.run(run())
    except PveFleetError as exc:
        module.fail_json(msg=str(exc), failure=exc.to_failure())
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


def run_object_module(kind: str) -> None:
    """main() of sdn_zone, sdn_vnet, sdn_subnet and sdn_controller."""
    from ansible_collections.pvefleet.sdn.plugins.module_utils._object_task import run_object_task

    async def task(client, params: dict, check_mode: bool) -> dict:
        options = {name: params.get(name) for name in OBJECT_OPTIONS[kind]}
        return await run_object_task(client, kind, options, state=params["state"], purge=params.get("purge", False),
                                     lock_token=params.get("lock_token"), check_mode=check_mode)

    run_module(object_argument_spec(kind), task)
