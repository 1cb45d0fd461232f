# Private to pvefleet.sdn: not a public API.
"""Argument specs shared by the modules, the action plugins and the doc-fragment tests.

One dict per concern, each mirrored by a doc fragment (plugins/doc_fragments/).
"""
from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import env_fallback

# How to reach one remote. Environment names follow the community Proxmox modules.
CONNECTION: dict[str, dict[str, Any]] = dict(
    api_host=dict(type="str", fallback=(env_fallback, ["PROXMOX_HOST"])),
    api_port=dict(type="int", fallback=(env_fallback, ["PROXMOX_PORT"])),
    api_user=dict(type="str", fallback=(env_fallback, ["PROXMOX_USER"])),
    api_password=dict(type="str", no_log=True, fallback=(env_fallback, ["PROXMOX_PASSWORD"])),
    api_token_id=dict(type="str", no_log=False, fallback=(env_fallback, ["PROXMOX_TOKEN_ID"])),
    api_token_secret=dict(type="str", no_log=True, fallback=(env_fallback, ["PROXMOX_TOKEN_SECRET"])),
    validate_certs=dict(type="bool", fallback=(env_fallback, ["PROXMOX_VALIDATE_CERTS"])),
    ca_path=dict(type="path", fallback=(env_fallback, ["PROXMOX_CA_PATH"])),
    fingerprint=dict(type="str", no_log=False),
    api_timeout=dict(type="float"),
)

# Defaults applied after host variables had their say (see plugin_utils/_action.py): a spec
# default would hide the host variable.
CONNECTION_DEFAULTS = dict(api_port=8006, validate_certs=True, api_timeout=30.0)

# The lock token of a transaction; the action plugins fill it in from the journal.
LOCK_TOKEN = dict(
    lock_token=dict(type="str", no_log=True),
)

# Where the controller keeps the record of a transaction.
JOURNAL = dict(
    transaction=dict(type="str", default="default"),
    journal_dir=dict(type="path", fallback=(env_fallback, ["PVEFLEET_SDN_JOURNAL_DIR"])),
)


def merge(*specs: dict) -> dict:
    """One argument spec out of several, without sharing the inner dicts."""
    merged: dict = {}
    for spec in specs:
        for name, option in spec.items():
            merged[name] = dict(option)
    return merged


# The properties of each SDN object, as module options (PVE's wire keys with `_` for `-`).
ZONE_OPTIONS = dict(
    zone=dict(type="str", required=True),
    type=dict(type="str", choices=["evpn", "faucet", "qinq", "simple", "vlan", "vxlan"]),
    nodes=dict(type="list", elements="str"),
    ipam=dict(type="str"),
    dns=dict(type="str"),
    reversedns=dict(type="str"),
    dnszone=dict(type="str"),
    mtu=dict(type="int"),
    dhcp=dict(type="str", choices=["dnsmasq"]),
    bridge=dict(type="str"),
    bridge_disable_mac_learning=dict(type="bool"),
    tag=dict(type="int"),
    vlan_protocol=dict(type="str", choices=["802.1q", "802.1ad"]),
    peers=dict(type="list", elements="str"),
    fabric=dict(type="str"),
    vxlan_port=dict(type="int"),
    controller=dict(type="str"),
    vrf_vxlan=dict(type="int"),
    mac=dict(type="str"),
    exitnodes=dict(type="list", elements="str"),
    exitnodes_primary=dict(type="str"),
    exitnodes_local_routing=dict(type="bool"),
    advertise_subnets=dict(type="bool"),
    disable_arp_nd_suppression=dict(type="bool"),
    rt_import=dict(type="list", elements="str"),
    dp_id=dict(type="int"),
    secondary_controllers=dict(type="list", elements="str"),
)

VNET_OPTIONS = dict(
    vnet=dict(type="str", required=True),
    zone=dict(type="str"),
    tag=dict(type="int"),
    alias=dict(type="str"),
    vlanaware=dict(type="bool"),
    isolate_ports=dict(type="bool"),
)

SUBNET_OPTIONS = dict(
    vnet=dict(type="str", required=True),
    subnet=dict(type="str", required=True),
    gateway=dict(type="str"),
    snat=dict(type="bool"),
    dnszoneprefix=dict(type="str"),
    dhcp_range=dict(type="list", elements="dict", options=dict(
        start_address=dict(type="str", required=True),
        end_address=dict(type="str", required=True),
    )),
    dhcp_dns_server=dict(type="str"),
)

CONTROLLER_OPTIONS = dict(
    controller=dict(type="str", required=True),
    type=dict(type="str", choices=["bgp", "evpn", "faucet", "isis"]),
    asn=dict(type="int"),
    peers=dict(type="list", elements="str"),
    fabric=dict(type="str"),
    node=dict(type="str"),
    ebgp=dict(type="bool"),
    ebgp_multihop=dict(type="int"),
    loopback=dict(type="str"),
    bgp_multipath_as_path_relax=dict(type="bool"),
    isis_domain=dict(type="str"),
    isis_net=dict(type="str"),
    isis_ifaces=dict(type="list", elements="str"),
    nodes=dict(type="list", elements="str"),
    peer_group_name=dict(type="str"),
    bgp_mode=dict(type="str", choices=["auto", "external", "internal"]),
    route_map_in=dict(type="str"),
    route_map_out=dict(type="str"),
)

FABRIC_OPTIONS = dict(
    fabric=dict(type="str", required=True),
    protocol=dict(type="str", choices=["openfabric", "ospf"]),
    ip_prefix=dict(type="str"),
    ip6_prefix=dict(type="str"),
    hello_interval=dict(type="float"),
    csnp_interval=dict(type="float"),
    area=dict(type="str"),
)

FABRIC_NODE_OPTIONS = dict(
    fabric=dict(type="str", required=True),
    node=dict(type="str", required=True),
    protocol=dict(type="str", choices=["openfabric", "ospf"]),
    ip=dict(type="str"),
    ip6=dict(type="str"),
    interfaces=dict(type="list", elements="dict", options=dict(
        name=dict(type="str", required=True),
        ip=dict(type="str"),
        ip6=dict(type="str"),
        hello_multiplier=dict(type="int"),
    )),
)

PREFIX_LIST_OPTIONS = dict(
    prefix_list=dict(type="str", required=True),
    entries=dict(type="list", elements="dict", options=dict(
        action=dict(type="str", required=True, choices=["permit", "deny"]),
        prefix=dict(type="str", required=True),
        le=dict(type="int"),
        ge=dict(type="int"),
        seq=dict(type="int"),
    )),
)

_KEY_VALUE = dict(key=dict(type="str", required=True, no_log=False), value=dict(type="str"))
ROUTE_MAP_OPTIONS = dict(
    route_map=dict(type="str", required=True),
    entries=dict(type="list", elements="dict", options=dict(
        order=dict(type="int", required=True),
        action=dict(type="str", required=True, choices=["permit", "deny"]),
        match=dict(type="list", elements="dict", options=_KEY_VALUE),
        set=dict(type="list", elements="dict", options=_KEY_VALUE),
        call=dict(type="str"),
        exit_action=dict(type="dict", options=_KEY_VALUE),
    )),
)

# IPAM and DNS plugins (pve-sdn-api.md §6.5); their secrets are no_log.
IPAM_OPTIONS = dict(
    ipam=dict(type="str", required=True),
    type=dict(type="str", choices=["netbox", "phpipam", "pve"]),
    url=dict(type="str"),
    token=dict(type="str", no_log=True),
    section=dict(type="int"),
    fingerprint=dict(type="str", no_log=False),
)

DNS_OPTIONS = dict(
    dns=dict(type="str", required=True),
    type=dict(type="str", choices=["powerdns"]),
    url=dict(type="str"),
    key=dict(type="str", no_log=True),
    ttl=dict(type="int"),
    reversemaskv6=dict(type="int"),
    fingerprint=dict(type="str", no_log=False),
)

# What every object module adds to its properties.
OBJECT_STATE = dict(
    state=dict(type="str", default="present", choices=["present", "absent"]),
    purge=dict(type="bool", default=False),
)

OBJECT_OPTIONS = dict(zone=ZONE_OPTIONS, vnet=VNET_OPTIONS, subnet=SUBNET_OPTIONS, controller=CONTROLLER_OPTIONS,
                      fabric=FABRIC_OPTIONS, fabric_node=FABRIC_NODE_OPTIONS, prefix_list=PREFIX_LIST_OPTIONS,
                      route_map=ROUTE_MAP_OPTIONS, ipam=IPAM_OPTIONS, dns=DNS_OPTIONS)
# A route map is the whole of its entries, so it has no options to purge.
_STATE_ONLY = dict(state=OBJECT_STATE["state"])


def object_argument_spec(kind: str) -> dict:
    """The whole spec of an object module (sdn_zone, sdn_vnet, ..., sdn_route_map)."""
    state = _STATE_ONLY if kind == "route_map" else OBJECT_STATE
    return merge(CONNECTION, LOCK_TOKEN, JOURNAL, state, OBJECT_OPTIONS[kind])


# A vnet's IP mappings and firewall: written at once, outside the SDN lock (no lock token).
VNET_IP_OPTIONS = dict(
    vnet=dict(type="str", required=True),
    zone=dict(type="str"),
    ip=dict(type="str", required=True),
    mac=dict(type="str"),
    state=dict(type="str", default="present", choices=["present", "absent"]),
)

# pve-firewall's log levels (rules and chain policies).
LOG_LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog")

FIREWALL_RULE_OPTIONS = dict(
    type=dict(type="str", default="forward", choices=["forward", "group"]),
    action=dict(type="str", required=True),
    enable=dict(type="bool", default=True),
    comment=dict(type="str"),
    source=dict(type="str"),
    dest=dict(type="str"),
    proto=dict(type="str"),
    dport=dict(type="str"),
    sport=dict(type="str"),
    macro=dict(type="str"),
    icmp_type=dict(type="str"),
    log=dict(type="str", choices=list(LOG_LEVELS)),
)

VNET_FIREWALL_OPTIONS = dict(
    vnet=dict(type="str", required=True),
    enable=dict(type="bool"),
    policy_forward=dict(type="str", choices=["ACCEPT", "DROP"]),
    log_level_forward=dict(type="str", choices=list(LOG_LEVELS)),
    rules=dict(type="list", elements="dict", options=FIREWALL_RULE_OPTIONS),
    exclusive=dict(type="bool", default=True),
    match=dict(type="str", default="comment", choices=["comment", "rule"]),
)

INFO_OPTIONS = dict(
    view=dict(type="str", default="pending", choices=["pending", "running", "config"]),
    fabric_status=dict(type="bool", default=True),
    ipam_status=dict(type="bool", default=True),
    firewall=dict(type="bool", default=True),
)
