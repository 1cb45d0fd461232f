"""The model and resource modules import with pydantic missing (ansible-test's import sanity).

Run in a child interpreter so that hiding pydantic does not disturb the other tests.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ansible_collections.pvefleet.sdn.plugins.module_utils import _deps

# The directory holding ansible_collections/pvefleet/sdn that this run imports the collection from
# (.build/collections for pytest, ansible-test's copy for `ansible-test units`).
COLLECTIONS = Path(_deps.__file__).parents[5]
MODULES = ["_models._wire", "_models._input_errors", "_models._zones", "_models._vnets",
           "_models._subnets", "_models._controllers", "_models._compare", "_models._plugins",
           "_models._firewall", "_firewall_plan", "_resource"]

SCRIPT = f"""
import importlib, sys
sys.modules["pydantic"] = None  # `import pydantic` now raises ImportError
sys.path.insert(0, {str(COLLECTIONS)!r})
for name in {MODULES!r}:
    importlib.import_module("ansible_collections.pvefleet.sdn.plugins.module_utils." + name)
from ansible_collections.pvefleet.sdn.plugins.module_utils._deps import HAS_PYDANTIC
assert HAS_PYDANTIC is False
"""


def test_models_and_resource_import_without_pydantic() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
