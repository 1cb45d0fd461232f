# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read every remote of the fleet at once and merge what they have (docs: modules/sdn_fleet_info.py)."""
from __future__ import annotations

import os

from ansible.utils.display import Display

from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import CONNECTION, merge
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput, PveFleetError
from ansible_collections.pvefleet.sdn.plugins.module_utils._fleet_view import (
    DEFAULT_CONCURRENCY,
    ZONE_TYPES,
    build_view,
    check_free_tags,
    fleet_table,
    markdown_report,
    read_fleet,
    scrub,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._remote import Remote
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._action import SdnAction

display = Display()

ARGSPEC = merge(CONNECTION, dict(
    remotes=dict(type="list", elements="str"),
    concurrency=dict(type="int", default=DEFAULT_CONCURRENCY),
    node_status=dict(type="bool", default=True),
    fabric_status=dict(type="bool", default=True),
    free_tags=dict(type="dict", options=dict(
        range=dict(type="list", elements="int", required=True),
        zone_type=dict(type="str", choices=sorted(ZONE_TYPES)),
    )),
    report=dict(type="path"),
))


class ActionModule(SdnAction):
    ARGSPEC = ARGSPEC
    BYPASS_HOST_LOOP = True  # one run for the whole play, like sdn_transaction

    async def execute(self, args: dict) -> dict:
        check_free_tags(args.get("free_tags"))  # a bad range is refused before anything is read
        hosts = args["remotes"] or list(self.task_vars.get("ansible_play_hosts") or [self.host])
        unknown = self.unknown_hosts(hosts)
        if unknown:
            raise InvalidInput(unknown)
        if len(hosts) > 1:
            self.check_settings_derivable(args)
        remotes, unusable = [], {}
        for host in hosts:
            try:
                remotes.append(Remote(host, self.connection_for(args, host)))
            except InvalidInput as exc:  # that host's settings: its own failure, the others are still read
                unusable[host] = {"ok": False, "remote": "", "error": f"{host}: {exc}"}
        read = await read_fleet(remotes, concurrency=args["concurrency"], fabric_status=args["fabric_status"],
                                node_status=args["node_status"], check_mode=self.check_mode)
        read.update(unusable)
        secrets = [value for remote in remotes for value in (remote.settings.api_token_secret, remote.settings.api_password)
                   if value]
        view = scrub(build_view(read, node_status=args["node_status"], free_tags=args.get("free_tags")), secrets)
        lines = fleet_table(view)
        for line in lines:
            display.display(line)
        failed = view["failed_remotes"]
        result = {"changed": False, "ok": not failed, **view, "summary": lines}
        if args.get("report"):
            result["report_file"] = _write_report(args["report"], scrub(markdown_report(view), secrets))
        result["msg"] = (f"{len(hosts)} remote(s), {len(failed)} could not be read"
                         f"{' (' + ', '.join(failed) + ')' if failed else ''}; {len(view['mismatches'])} mismatch(es)")
        warnings = []
        if failed:
            warnings.append(f"could not read {', '.join(failed)}: see remotes.<host>.error")
            if "free_tags" in view:
                warnings.append("free_tags does not know the tags of the remotes that could not be read")
        if warnings:
            result["warnings"] = warnings
        return result


def _write_report(path: str, text: str) -> str:
    """The Markdown report, written whole (a temporary file renamed over it)."""
    target = os.path.abspath(os.path.expanduser(path))
    directory = os.path.dirname(target)
    try:
        os.makedirs(directory, exist_ok=True)
        temporary = f"{target}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, target)
    except OSError as exc:
        raise _ReportError(f"cannot write the report {target}: {exc}") from None
    return target


class _ReportError(PveFleetError):
    pass
