"""Every module's documented options match the argument spec its action plugin validates with.

validate-modules checks real modules against their own argspec; this also covers the
documentation-only modules (sdn_lock, sdn_apply, sdn_transaction) and the action plugins.
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("sdn_*.py"))


def documentation(module: str) -> dict:
    tree = ast.parse((REPO / "plugins" / "modules" / f"{module}.py").read_text())
    text = next(node.value.value for node in tree.body if isinstance(node, ast.Assign)
                and node.targets[0].id == "DOCUMENTATION")
    doc = yaml.safe_load(text)
    options = dict(doc.get("options") or {})
    for fragment in doc.get("extends_documentation_fragment", []):
        name, _sep, variant = fragment.removeprefix("pvefleet.sdn.").partition(".")
        cls = importlib.import_module(f"ansible_collections.pvefleet.sdn.plugins.doc_fragments.{name}").ModuleDocFragment
        options.update(yaml.safe_load(getattr(cls, (variant or "documentation").upper())).get("options") or {})
    return options


def action_spec(module: str) -> dict:
    return importlib.import_module(f"ansible_collections.pvefleet.sdn.plugins.action.{module}").ActionModule.ARGSPEC


def compare(documented: dict, spec: dict, where: str) -> list[str]:
    problems = []
    if set(documented) != set(spec):
        problems.append(f"{where}: documented {sorted(set(documented) - set(spec))} not in spec, "
                        f"spec {sorted(set(spec) - set(documented))} not documented")
    for name in set(documented) & set(spec):
        doc, arg = documented[name], spec[name]
        for key, default in (("type", "str"), ("choices", None), ("default", None), ("elements", None),
                             ("required", False)):
            if doc.get(key, default) != arg.get(key, default):
                problems.append(f"{where}.{name}: {key} documented {doc.get(key, default)!r}, spec {arg.get(key, default)!r}")
        if "suboptions" in doc or "options" in arg:
            problems += compare(doc.get("suboptions") or {}, arg.get("options") or {}, f"{where}.{name}")
    return problems


@pytest.mark.parametrize("module", MODULES)
def test_documented_options_match_the_action_plugins_spec(module):
    assert compare(documentation(module), action_spec(module), module) == []


@pytest.mark.parametrize("module", [m for m in MODULES if "ARGUMENT_SPEC" in (REPO / "plugins" / "modules" / f"{m}.py").read_text()])
def test_module_and_action_plugin_validate_the_same_options(module):
    spec = importlib.import_module(f"ansible_collections.pvefleet.sdn.plugins.modules.{module}").ARGUMENT_SPEC
    assert spec == action_spec(module)


def test_every_action_plugin_has_a_documented_module():
    actions = sorted(p.stem for p in (REPO / "plugins" / "action").glob("sdn_*.py"))
    assert actions == MODULES


def test_action_group_lists_every_module():
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert sorted(runtime["action_groups"]["sdn"]) == MODULES
