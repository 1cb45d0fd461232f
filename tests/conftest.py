"""Make this checkout importable as ansible_collections.pvefleet.sdn for every test suite."""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if REPO.parents[1].name == "ansible_collections":
    # Already laid out as ansible_collections/pvefleet/sdn (the copy ansible-test runs in).
    COLLECTIONS = REPO.parents[2]
else:
    COLLECTIONS = REPO / ".build" / "collections"
    _link = COLLECTIONS / "ansible_collections" / "pvefleet" / "sdn"
    if not _link.exists():
        _link.parent.mkdir(parents=True, exist_ok=True)
        _link.symlink_to(REPO, target_is_directory=True)
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", str(COLLECTIONS))
