"""PVE's section config text format: the files under /etc/pve/sdn (zones.cfg, vnets.cfg, ...).

Each object is a header line `<type>: <id>`, then one tab-indented `<key> <value>` line per
property (an array property repeats its key), then an empty line. Objects stay in file order
and new ones go to the end; keys are written sorted. The digest of a file is the SHA-1 of its
text (pve-sdn-api.md §5.3), so writing the same objects again keeps the digest, and an empty or
missing file has the digest of the empty string.
"""
from __future__ import annotations

import hashlib
from typing import Any

Sections = dict[str, dict[str, Any]]


def render(sections: Sections) -> str:
    """The file text for these objects (each has its `type`)."""
    chunks = []
    for object_id, values in sections.items():
        lines = [f"{values['type']}: {object_id}\n"]
        for key in sorted(values):
            if key == "type":
                continue
            value = values[key]
            for item in value if isinstance(value, list) else [value]:
                lines.append(f"\t{key} {item}\n")
        chunks.append("".join(lines) + "\n")
    return "".join(chunks)


def digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def parse(text: str, types: dict[str, dict]) -> Sections:
    """Objects from file text; `types` (property schemas) makes integers and booleans numbers
    and array properties lists again."""
    sections: Sections = {}
    current: dict[str, Any] | None = None
    for line in text.splitlines():
        if not line.strip():
            current = None
            continue
        if not line[0].isspace():
            kind, _sep, object_id = line.partition(":")
            current = {"type": kind.strip()}
            sections[object_id.strip()] = current
            continue
        if current is None:
            continue  # a property line outside any object: PVE skips it too
        key, _sep, raw = line.strip().partition(" ")
        prop = types.get(key, {})
        value = _typed(prop.get("items", {}) if prop.get("type") == "array" else prop, raw.strip())
        if prop.get("type") == "array":
            current.setdefault(key, []).append(value)
        else:
            current[key] = value
    return sections


def _typed(prop: dict, raw: str) -> Any:
    if prop.get("type") in ("integer", "boolean"):
        try:
            return int(raw)
        except ValueError:
            return raw
    if prop.get("type") == "number":
        try:
            number = float(raw)
        except ValueError:
            return raw
        return int(number) if number.is_integer() else number
    return raw
