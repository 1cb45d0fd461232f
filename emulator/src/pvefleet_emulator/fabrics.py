"""SDN fabrics (PVE 9): fabrics.cfg, its running copy, and the checks of the Rust code behind it.

pve-network keeps fabrics through PVE::RS::SDN::Fabrics (proxmox-perl-rs
pve-rs/src/bindings/sdn/fabrics.rs, 0.11.4 for PVE 9.1) on the types of proxmox-ve-config
(src/sdn/fabric/**, 0.4.7), which this module follows:

- fabrics.cfg is a section config (section_config/mod.rs `Section`): a fabric is
  `openfabric_fabric: <id>` or `ospf_fabric: <id>`, a node `openfabric_node: <fabric>_<node>` or
  `ospf_node: <fabric>_<node>` (node.rs `NodeSectionId`, joined by `_`). Every write parses the
  file, changes the config and writes it whole (fabric/mod.rs `write_section_config`): fabrics
  sorted by ID, each followed by its nodes sorted by node ID.
- `.running-config` holds them as `fabrics: {ids: {<section id>: {type, id, ...}}}`, nodes
  included (pve-network Network/SDN.pm compile_running_cfg: `$fabrics_cfg->to_sections()`).
- The API shows a fabric as `{protocol, id, ...}` and a node as `{protocol, fabric_id, node_id,
  ip, ip6, interfaces}` (fabric.rs `Fabric`, node.rs `api::Node`), interfaces as property strings.
- The digest is the SHA-256 of the config serialized as JSON (fabrics.rs `digest`), not of the file.
- Errors of the Rust code reach Perl as their text and a newline (perlmod `format!("{err:#}\\n")`).
"""
from __future__ import annotations

import copy
import hashlib
import ipaddress
import json
from typing import Any, Optional

from pvefleet_emulator.errors import Die

PROTOCOLS = ("openfabric", "ospf")
# The protocol properties of a fabric (protocol/openfabric.rs OpenfabricProperties,
# protocol/ospf.rs OspfProperties), and those an update may delete (…DeletableProperties; OSPF's
# enum is empty in 0.4.7).
FABRIC_PROPERTIES = {"openfabric": ("hello_interval", "csnp_interval"), "ospf": ("area",)}
FABRIC_DELETABLE = {"openfabric": ("hello_interval", "csnp_interval"), "ospf": ()}
# An interface's keys in the order its property string is written (the struct's field order:
# OpenfabricInterfaceProperties, OspfInterfaceProperties).
INTERFACE_KEYS = {"openfabric": ("name", "hello_multiplier", "ip", "ip6"), "ospf": ("name", "ip")}
INTERFACE_NAME_MAX = 15  # section_config/interface.rs InterfaceName: the kernel's limit
NODE_ID_MAX = 63  # section_config/node.rs NODE_ID_REGEX


def _error(text: str) -> Die:
    return Die(f"{text}\n")


class Fabrics:
    """One fabric config (fabric/mod.rs FabricConfig): fabrics by ID, their nodes by node ID, as
    the API shows them."""

    def __init__(self) -> None:
        self.fabrics: dict[str, dict[str, Any]] = {}
        self.nodes: dict[str, dict[str, dict[str, Any]]] = {}

    # Reading and writing sections

    @classmethod
    def from_sections(cls, sections: dict[str, dict]) -> Fabrics:
        """fabric/mod.rs from_section_config: fabrics first, then each node into its fabric."""
        config = cls()
        for section_id, values in sections.items():
            kind = str(values.get("type", ""))
            if kind.endswith("_fabric"):
                fabric: dict[str, Any] = {"protocol": kind[: -len("_fabric")], "id": section_id}
                for key in ("ip_prefix", "ip6_prefix", *FABRIC_PROPERTIES.get(fabric["protocol"], ())):
                    if values.get(key) is not None:
                        fabric[key] = values[key] if key in ("ip_prefix", "ip6_prefix", "area") else int(values[key])
                config.fabrics[section_id] = fabric
                config.nodes[section_id] = {}
        for section_id, values in sections.items():
            kind = str(values.get("type", ""))
            if kind.endswith("_node"):
                fabric_id, _sep, node_id = section_id.partition("_")
                if fabric_id not in config.fabrics:
                    raise _error(f"fabric '{fabric_id}' does not exist in configuration")
                interfaces = values.get("interfaces") or []
                node: dict[str, Any] = {"protocol": kind[: -len("_node")], "fabric_id": fabric_id, "node_id": node_id}
                node.update({key: values[key] for key in ("ip", "ip6") if values.get(key) is not None})
                node["interfaces"] = list(interfaces) if isinstance(interfaces, list) else [interfaces]
                config.nodes[fabric_id][node_id] = node
        config._sort()
        return config

    @classmethod
    def from_running(cls, running: Optional[dict]) -> Fabrics:
        """Network/SDN/Fabrics.pm config(1): `$running_config->{fabrics}->{ids} // {}`."""
        return cls.from_sections(((running or {}).get("fabrics") or {}).get("ids") or {})

    def sections(self, *, running: bool = False) -> dict[str, dict]:
        """The sections in file order (fabric/mod.rs into_section_config). The running copy
        carries each section's `id` and its node's `interfaces` even when empty, as serde writes
        them (fabrics.rs to_sections)."""
        out: dict[str, dict] = {}
        for fabric_id, fabric in self.fabrics.items():
            section: dict[str, Any] = {"type": f"{fabric['protocol']}_fabric", **({"id": fabric_id} if running else {})}
            section.update({k: v for k, v in fabric.items() if k not in ("protocol", "id")})
            out[fabric_id] = section
            for node_id, node in self.nodes[fabric_id].items():
                section_id = f"{fabric_id}_{node_id}"
                section = {"type": f"{node['protocol']}_node", **({"id": section_id} if running else {})}
                section.update({k: node[k] for k in ("ip", "ip6") if k in node})
                if node["interfaces"] or running:
                    section["interfaces"] = list(node["interfaces"])
                out[section_id] = section
        return out

    def _sort(self) -> None:
        self.fabrics = dict(sorted(self.fabrics.items()))
        self.nodes = {fabric_id: dict(sorted(self.nodes.get(fabric_id, {}).items())) for fabric_id in self.fabrics}

    def digest(self) -> str:
        """fabrics.rs `digest`: SHA-256 of the FabricConfig as serde writes it (fabric entries by
        ID, each `{"<Protocol>": {"fabric": ..., "nodes": {...}}}`)."""
        document = {}
        for fabric_id, fabric in self.fabrics.items():
            keys = ("protocol", "id", "ip_prefix", "ip6_prefix", *FABRIC_PROPERTIES[fabric["protocol"]])
            nodes = {node_id: {"protocol": node["protocol"], "id": f"{fabric_id}_{node_id}",
                               **{k: node[k] for k in ("ip", "ip6") if k in node}, "interfaces": node["interfaces"]}
                     for node_id, node in self.nodes[fabric_id].items()}
            document[fabric_id] = {fabric["protocol"].capitalize(): {
                "fabric": {k: fabric[k] for k in keys if k in fabric}, "nodes": nodes}}
        return hashlib.sha256(json.dumps(document, separators=(",", ":")).encode()).hexdigest()

    # Listings (fabrics.rs list_*, get_*): copies, keyed as the Rust code keys them

    def list_fabrics(self) -> dict[str, dict]:
        return copy.deepcopy(self.fabrics)

    def list_nodes(self) -> dict[str, dict]:
        """fabrics.rs list_nodes: keyed by node ID alone, so a node in several fabrics is listed
        once, with the last fabric's (by fabric ID) entry."""
        return {node_id: copy.deepcopy(node) for nodes in self.nodes.values() for node_id, node in nodes.items()}

    def list_nodes_fabric(self, fabric_id: str) -> dict[str, dict]:
        self.get_fabric(fabric_id)
        return copy.deepcopy(self.nodes[fabric_id])

    def list_all(self) -> tuple[dict[str, dict], dict[str, dict]]:
        """fabrics.rs list_all: nodes keyed by their section ID `<fabric>_<node>`."""
        nodes = {f"{fabric_id}_{node_id}": copy.deepcopy(node)
                 for fabric_id, entries in self.nodes.items() for node_id, node in entries.items()}
        return self.list_fabrics(), nodes

    def get_fabric(self, fabric_id: str) -> dict:
        if fabric_id not in self.fabrics:
            raise _error(f"fabric '{fabric_id}' does not exist in configuration")
        return copy.deepcopy(self.fabrics[fabric_id])

    def get_node(self, fabric_id: str, node_id: str) -> dict:
        self.get_fabric(fabric_id)
        if node_id not in self.nodes[fabric_id]:
            raise _error(f"node '{node_id}' does not exist in fabric '{fabric_id}'")
        return copy.deepcopy(self.nodes[fabric_id][node_id])

    # Changes (fabric/mod.rs FabricConfig and FabricEntry): `params` are the call's parameters
    # after PVE's schema check, without `lock-token` and `digest`

    def add_fabric(self, params: dict[str, Any]) -> None:
        fabric = _fabric_from(params)
        if fabric["id"] in self.fabrics:
            raise _error(f"fabric '{fabric['id']}' already exists in config")
        for key in ("ip_prefix", "ip6_prefix"):  # mod.rs add_fabric: prefixes made canonical
            if key in fabric:
                network = ipaddress.ip_interface(fabric[key]).network
                fabric[key] = f"{network.network_address}/{network.prefixlen}"
        self.fabrics[fabric["id"]] = fabric
        self.nodes[fabric["id"]] = {}
        self._sort()

    def update_fabric(self, fabric_id: str, params: dict[str, Any]) -> None:
        """mod.rs update_fabric: the sent values set (prefixes as sent), then the deletes."""
        protocol, changes = _fabric_changes(params)
        deletes = _delete_list(params)  # both are the updater's fields, read before the lookup
        self.get_fabric(fabric_id)
        fabric = self.fabrics[fabric_id]
        if fabric["protocol"] != protocol:
            raise _error("node has a different protocol than the referenced fabric")
        fabric.update(changes)
        for key in deletes:
            fabric.pop(key, None)

    def delete_fabric(self, fabric_id: str) -> None:
        """mod.rs delete_fabric: the fabric goes with its nodes."""
        self.get_fabric(fabric_id)
        del self.fabrics[fabric_id]
        del self.nodes[fabric_id]

    def add_node(self, params: dict[str, Any]) -> None:
        node = _node_from(params)
        fabric_id, node_id = node["fabric_id"], node["node_id"]
        fabric = self.get_fabric(fabric_id)
        if fabric["protocol"] != node["protocol"]:  # FabricEntry::add_node
            raise _error("node has a different protocol than the referenced fabric")
        if node_id in self.nodes[fabric_id]:
            raise _error(f"node '{node_id}' already exists in config for fabric {fabric_id}")
        self.nodes[fabric_id][node_id] = node
        self._sort()

    def update_node(self, fabric_id: str, node_id: str, params: dict[str, Any], *, pve91: bool = False) -> None:
        """FabricEntry::update_node: ip, ip6 and interfaces as sent (interfaces replaced whole),
        then the deletes. `pve91`: with PVE 9.1's proxmox-ve-config (see _node_delete_list)."""
        protocol, changes = _node_changes(params)
        deletes = _node_delete_list(params, protocol, pve91)
        self.get_node(fabric_id, node_id)
        node = self.nodes[fabric_id][node_id]
        if node["protocol"] != protocol:
            raise _error("node has a different protocol than the referenced fabric")
        node.update(changes)
        for key in deletes:
            if key == "interfaces":
                node["interfaces"] = []
            else:
                node.pop(key, None)

    def delete_node(self, fabric_id: str, node_id: str) -> None:
        self.get_node(fabric_id, node_id)
        del self.nodes[fabric_id][node_id]

    # Validation (fabric/mod.rs Validatable for FabricConfig and FabricEntry, the protocols'
    # Validatable impls), run on every write (write_section_config: into_valid)

    def validate(self) -> None:
        ids = list(self.fabrics)
        for index, first_id in enumerate(ids):  # prefixes of two fabrics must not overlap
            for second_id in ids[index + 1:]:
                first, second = self.fabrics[first_id], self.fabrics[second_id]
                for key, label, family in (("ip_prefix", "IP prefix", "IPv4 prefix"),
                                           ("ip6_prefix", "IPv6 prefix", "IPv6 prefix")):
                    if key in first and key in second and _network(first[key]).overlaps(_network(second[key])):
                        raise _error(f"{label} {second[key]} in fabric '{second_id}' overlaps with "
                                     f"{family} {first[key]} in fabric '{first_id}'")
        interfaces: set[tuple[str, str]] = set()
        areas: set[ipaddress.IPv4Address] = set()
        for fabric_id, fabric in self.fabrics.items():
            if fabric["protocol"] == "ospf":
                area = _area_address(fabric["area"])
                if area in areas:
                    raise _error("duplicate OSPF area")
                areas.add(area)
            for node_id, node in self.nodes[fabric_id].items():
                for text in node["interfaces"]:
                    used = (node_id, parse_interface(text).get("name", ""))
                    if used in interfaces:
                        raise _error("interface is already in use by another fabric")
                    interfaces.add(used)
            self._validate_entry(fabric_id, fabric)

    def _validate_entry(self, fabric_id: str, fabric: dict) -> None:
        ips: set[str] = set()
        for node_id, node in self.nodes[fabric_id].items():
            section_id = f"{fabric_id}_{node_id}"
            for prefix_key, ip_key in (("ip_prefix", "ip"), ("ip6_prefix", "ip6")):
                prefix, ip = fabric.get(prefix_key), node.get(ip_key)
                if prefix is None and ip is not None:
                    raise _error(f"fabric '{fabric_id}' does not have an IP prefix configured for the node IP {ip}")
                if prefix is not None and ip is None:
                    raise _error(f"node '{section_id}' does not have an IP configured for this fabric prefix {prefix}")
                if prefix is not None and ipaddress.ip_address(str(ip)) not in _network(prefix):
                    raise _error(f"node IP {ip} is outside the IP prefix {prefix} of the fabric")
            for ip_key in ("ip", "ip6"):
                if ip_key in node:
                    if node[ip_key] in ips:
                        raise _error(f"fabric {fabric_id} contains nodes with duplicated IPs")
                    ips.add(node[ip_key])
            if node["protocol"] == "openfabric" and "ip" not in node and "ip6" not in node:
                raise _error(f"node '{section_id}' does not have an IP configured")
            if node["protocol"] == "ospf":
                if "ip" not in node:
                    raise _error(f"node '{section_id}' does not have an IP configured")
                if "ip6" in node:
                    raise _error("IPv6 is currently not supported for protocol ospf")
        if fabric["protocol"] == "openfabric" and "ip_prefix" not in fabric and "ip6_prefix" not in fabric:
            raise _error(f"fabric '{fabric_id}' does not have an IP prefix configured")
        if fabric["protocol"] == "ospf":
            if "ip_prefix" not in fabric:
                raise _error(f"fabric '{fabric_id}' does not have an IP prefix configured")
            if "ip6_prefix" in fabric:
                raise _error("IPv6 is currently not supported for protocol ospf")


# The parameters as the Rust types deserialize them (perlmod from the Perl hash): unknown keys
# are ignored (serde's default), values are parsed by their types.


def _fabric_from(params: dict[str, Any]) -> dict[str, Any]:
    """api::Fabric: `protocol` is the tag; OSPF's `area` is required."""
    protocol = str(params["protocol"])
    fabric: dict[str, Any] = {"protocol": protocol, "id": str(params["id"])}
    fabric.update(_fabric_changes(params)[1])
    if protocol == "ospf" and "area" not in fabric:
        raise _error("missing field `area`")
    return fabric


def _fabric_changes(params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The typed values of FabricSection<T> (or its updater) that the call sends."""
    protocol = str(params["protocol"])
    changes: dict[str, Any] = {}
    if params.get("ip_prefix") is not None:
        changes["ip_prefix"] = _cidr(str(params["ip_prefix"]), 4)
    if params.get("ip6_prefix") is not None:
        changes["ip6_prefix"] = _cidr(str(params["ip6_prefix"]), 6)
    for key in FABRIC_PROPERTIES[protocol]:
        if params.get(key) is not None:
            changes[key] = _area(str(params[key])) if key == "area" else _u16(params[key])
    return protocol, changes


def _delete_list(params: dict[str, Any]) -> list[str]:
    """FabricDeletableProperties<T> (untagged): only the protocol's deletable keys deserialize;
    OSPF has none in 0.4.7, so its `area` (the schema's only choice) fails."""
    deletable = FABRIC_DELETABLE[str(params["protocol"])]
    keys = _as_list(params.get("delete"))
    for key in keys:
        if key not in deletable:
            raise _error("data did not match any variant of untagged enum FabricDeletableProperties")
    return keys


def _node_from(params: dict[str, Any]) -> dict[str, Any]:
    """api::Node (NodeData<T>): fabric_id, node_id, ip, ip6, interfaces (default empty)."""
    node_id = str(params["node_id"])
    if len(node_id) > NODE_ID_MAX:
        raise _error("value does not match the regex pattern")
    protocol, changes = _node_changes(params)
    node: dict[str, Any] = {"protocol": protocol, "fabric_id": str(params["fabric_id"]), "node_id": node_id}
    node.update(changes)
    node.setdefault("interfaces", [])
    return node


def _node_changes(params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    protocol = str(params["protocol"])
    changes: dict[str, Any] = {}
    if params.get("ip") is not None:
        changes["ip"] = str(ipaddress.IPv4Address(str(params["ip"])))
    if params.get("ip6") is not None:
        changes["ip6"] = str(ipaddress.IPv6Address(str(params["ip6"])))
    if params.get("interfaces") is not None:
        changes["interfaces"] = [_interface(protocol, text) for text in _as_list(params["interfaces"])]
    return protocol, changes


def _node_delete_list(params: dict[str, Any], protocol: str, pve91: bool) -> list[str]:
    """NodeDeletableProperties<T>: `ip`, `ip6`, or the protocol's own. OSPF's own enum is
    `untagged` in 0.4.7 (PVE 9.1) and takes no string, so `interfaces` fails there; fixed in
    0.6.0 (commit 4ed8f0e), which PVE 9.2 has."""
    keys = _as_list(params.get("delete"))
    for key in keys:
        if key == "interfaces" and protocol == "ospf" and pve91:
            raise _error("data did not match any variant of untagged enum NodeDeletableProperties")
    return keys


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def parse_interface(text: str) -> dict[str, str]:
    """A property string as its keys (PVE's schema check has refused malformed ones)."""
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


def _interface(protocol: str, text: str) -> str:
    """PropertyString<…InterfaceProperties>: parsed, then written back in field order, the
    addresses as Rust prints them."""
    values = parse_interface(text)
    name = values.get("name", "")
    if len(name) > INTERFACE_NAME_MAX:
        raise _error(f"value may only be {INTERFACE_NAME_MAX} characters long")
    if not name.isascii():
        raise _error("value does not match the regex pattern")
    if "ip" in values:
        values["ip"] = _cidr(values["ip"], 4)
    if "ip6" in values:
        values["ip6"] = _cidr(values["ip6"], 6)
    if "hello_multiplier" in values:
        values["hello_multiplier"] = str(_u16(values["hello_multiplier"]))
    return ",".join(f"{key}={values[key]}" for key in INTERFACE_KEYS[protocol] if key in values)


def _cidr(text: str, version: int) -> str:
    """Ipv4Cidr / Ipv6Cidr (proxmox-network-types): the address part must be of the family
    (std's AddrParseError texts); printed as address/mask, host bits kept."""
    address, _sep, mask = text.partition("/")
    try:
        parsed = ipaddress.IPv4Address(address) if version == 4 else ipaddress.IPv6Address(address)
    except ValueError:
        raise _error(f"invalid IPv{version} address syntax") from None
    return f"{parsed}/{mask}" if mask else f"{parsed}/{32 if version == 4 else 128}"


def _network(prefix: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_interface(prefix).network


def _u16(value: Any) -> int:
    """The intervals and the hello multiplier are u16 (proxmox-sdn-types openfabric.rs)."""
    text = str(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not text.isdigit() or int(text) > 65535:
        raise _error(f"invalid value '{text}': expected an unsigned 16-bit integer")
    return int(text)


def _area(text: str) -> str:
    """proxmox-sdn-types area.rs Area: an IPv4 address or a u32, kept in the form given."""
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        pass
    digits = text[1:] if text.startswith("+") else text
    if digits.isdigit() and int(digits) <= 0xFFFFFFFF:
        return str(int(digits))
    raise _error("Area is not a number, nor an ip address")


def _area_address(area: str) -> ipaddress.IPv4Address:
    """Area::get_ipv4_representation: two areas are the same if this is."""
    return ipaddress.IPv4Address(int(area)) if area.isdigit() else ipaddress.IPv4Address(area)


# The pending view (pve-network Network/SDN.pm pending_config, encode_value)


def _encoded(key: str, value: Any) -> Optional[str]:
    if value is None:
        return None
    if key == "interfaces" and isinstance(value, list):
        return ",".join(sorted(str(item) for item in value))
    return str(value)


def pending_view(running: dict[str, dict], current: dict[str, dict]) -> dict[str, dict]:
    """Every object of either side: unchanged ones with their running values; new ones with
    only `state: new` and every property under `pending` (fabrics and nodes have no `type` key,
    so not even their IDs are left at the top); changed ones with the running values, `state:
    changed` and the new values (or "deleted") under `pending`; deleted ones with the running
    values, `state: deleted` and `pending: {}`."""
    view: dict[str, dict] = {}
    for object_id in sorted(running):
        before, after = running[object_id], current.get(object_id) or {}
        item = view.setdefault(object_id, {})
        for key in sorted(before):
            item[key] = copy.deepcopy(before[key])
            if not after:
                item["state"] = "deleted"
            elif after.get(key) is None:
                item.setdefault("pending", {})[key] = "deleted"
                item["state"] = "changed"
            elif _encoded(key, before[key]) != _encoded(key, after[key]):
                item["state"] = "changed"
        if item.get("state") and "pending" not in item:
            item["pending"] = {}
    for object_id in sorted(current):
        before, after = running.get(object_id) or {}, current[object_id]
        item = view.setdefault(object_id, {})
        for key in sorted(after):
            new, old = _encoded(key, after[key]), _encoded(key, before.get(key))
            if key in ("type", "vnet"):
                item[key] = new
            elif old is None or new != old:
                item.setdefault("pending", {})[key] = copy.deepcopy(after[key])
            if not before:
                item["state"] = "new"
            elif old is None and new is not None:
                item["state"] = "changed"
        if item.get("state") and "pending" not in item:
            item["pending"] = {}
    return view


# What one node generates from a fabric config (fabrics.rs get_interfaces_etc_network_config and
# the FRR config of proxmox-ve-config's frr.rs), simplified for the dry-run diff


def generated(config: Fabrics, node_id: str) -> tuple[str, str]:
    """The node's fabric interfaces and FRR lines, in the shape of pve-rs's output: a dummy
    interface with the node's address per fabric, each fabric interface with its own address or
    the node's; `router openfabric` with its NET, or `router ospf` with the router ID."""
    interfaces, frr = [], []
    for fabric_id, fabric in config.fabrics.items():
        node = config.nodes[fabric_id].get(node_id)
        if node is None:
            continue
        for key, family, length in (("ip", "inet", 32), ("ip6", "inet6", 128)):
            if key in node:
                interfaces.append(f"\nauto dummy_{fabric_id}\niface dummy_{fabric_id} {family} static\n"
                                  f"\taddress {node[key]}/{length}\n\tlink-type dummy\n\tip-forward 1\n")
        for text in node["interfaces"]:
            iface = parse_interface(text)
            addresses = [iface[k] for k in ("ip", "ip6") if k in iface] or \
                [f"{node[k]}/{32 if k == 'ip' else 128}" for k in ("ip", "ip6") if k in node][:1]
            for address in addresses:
                family = "inet6" if ":" in address else "inet"
                interfaces.append(f"\nauto {iface['name']}\niface {iface['name']} {family} static\n"
                                  f"\taddress {address}\n\tip-forward 1\n")
        names = [f"dummy_{fabric_id}"] + [parse_interface(text)["name"] for text in node["interfaces"]]
        if fabric["protocol"] == "openfabric":
            router_ip = node.get("ip") or "0.0.0.0"
            digits = "".join(f"{int(octet):03d}" for octet in router_ip.split("."))
            frr.append(f"router openfabric {fabric_id}\n net 49.0001.{digits[0:4]}.{digits[4:8]}.{digits[8:12]}.00\nexit\n!\n")
            frr += [f"interface {name}\n ip router openfabric {fabric_id}\nexit\n!\n" for name in names]
        else:
            frr.append(f"router ospf\n ospf router-id {node.get('ip')}\nexit\n!\n")
            frr += [f"interface {name}\n ip ospf area {fabric['area']}\nexit\n!\n" for name in names]
    return "".join(interfaces), "".join(frr)
