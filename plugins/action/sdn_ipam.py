# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manage one SDN IPAM plugin of a remote, inside a transaction or not (docs: modules/sdn_ipam.py)."""
from __future__ import annotations

from ansible_collections.pvefleet.sdn.plugins.plugin_utils._object_action import ObjectAction


class ActionModule(ObjectAction):
    KIND = "ipam"
