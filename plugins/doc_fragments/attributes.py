# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # The object modules: member of the action group, full check and diff mode.
    DOCUMENTATION = r"""
attributes:
  action_group:
    description: Use C(group/pvefleet.sdn.sdn) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - pvefleet.sdn.sdn
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying the remote.
    support: full
  diff_mode:
    description: Will return details on what has changed (or would change in check_mode) when in diff mode.
    support: full
"""

    # Every module is in the action group; modules that document their own check and diff mode use this.
    ACTION_GROUP = r"""
attributes:
  action_group:
    description: Use C(group/pvefleet.sdn.sdn) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - pvefleet.sdn.sdn
"""

    # Modules that change the remote and converge on a desired state.
    IDEMPOTENT = r"""
attributes:
  idempotent:
    description: Running the task again with the same options changes nothing and reports C(changed=false).
    support: full
"""
