"""The firewall executor against a scripted client: digests sent, the list read back after each request,
and a list that is not what the plan made of it (someone else's change) stops it."""
from __future__ import annotations

import asyncio

import pytest

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._firewall_task import (
    FirewallChanged,
    check_firewall_options,
    run_vnet_firewall_task,
)

BASE = "/cluster/sdn/vnets/v1/firewall"


class ListClient:
    """A vnet's rules as PVE keeps them (POST at the top, moveto, DELETE), with a digest per version;
    `meddle` runs after the n-th write, as another client would."""

    def __init__(self, rules, meddle=None):
        self.rules = [dict(r) for r in rules]
        self.version = 0
        self.sent = []
        self.meddle = meddle or {}

    def listing(self):
        return [{**r, "pos": i, "digest": f"d{self.version}"} for i, r in enumerate(self.rules)]

    async def get(self, path, params=None):
        return {"digest": "o"} if path.endswith("/options") else self.listing()

    async def _write(self, method, path, params):
        self.sent.append((method, path[len(BASE):], dict(params or {})))
        assert (params or {}).get("digest", f"d{self.version}") == f"d{self.version}", "a stale digest"
        pos = int(path.rsplit("/", 1)[1]) if path[-1].isdigit() else None
        if method == "POST":
            self.rules.insert(0, {k: v for k, v in params.items() if k != "digest"})
        elif method == "DELETE":
            del self.rules[pos]
        elif "moveto" in params:
            rule = self.rules[pos]
            moveto = int(params["moveto"])
            self.rules.insert(moveto, rule)
            del self.rules[pos + 1 if moveto <= pos else pos]
        else:
            self.rules[pos].update({k: v for k, v in params.items() if k not in ("digest", "delete")})
        self.version += 1
        if self.version in self.meddle:
            self.meddle[self.version](self)

    async def post(self, path, data=None):
        await self._write("POST", path, data)

    async def put(self, path, data=None):
        await self._write("PUT", path, data)

    async def delete(self, path, params=None):
        await self._write("DELETE", path, params)


def wire(comment, port):
    return {"type": "forward", "action": "ACCEPT", "proto": "tcp", "dport": str(port), "comment": comment, "enable": 1}


def declared(*rules):
    return {"vnet": "v1", "rules": [{"action": "ACCEPT", "proto": "tcp", "dport": str(port), "comment": comment}
                                    for comment, port in rules], "exclusive": True, "match": "comment"}


def test_every_request_carries_the_digest_of_the_list_it_was_planned_on():
    client = ListClient([wire("a", 22), wire("b", 80)])
    result = asyncio.run(run_vnet_firewall_task(client, declared(("b", 80), ("c", 443), ("a", 22)), False))
    assert [r["comment"] for r in client.rules] == ["b", "c", "a"]
    assert all(params.get("digest") for _method, _path, params in client.sent)  # ListClient refuses a stale one
    assert result["changed"] and len(result["requests"]) == len(client.sent)


def test_a_list_changed_by_someone_else_meanwhile_stops_the_executor():
    def insert_one(client):
        client.rules.insert(0, wire("intruder", 25))

    client = ListClient([wire("a", 22), wire("b", 80)], meddle={1: insert_one})
    with pytest.raises(FirewallChanged, match="someone else changed them meanwhile"):
        asyncio.run(run_vnet_firewall_task(client, declared(("b", 80), ("a", 22), ("c", 443)), False))
    assert len(client.sent) == 1  # nothing sent after the list stopped matching the plan


def test_check_mode_sends_nothing():
    client = ListClient([wire("a", 22)])
    result = asyncio.run(run_vnet_firewall_task(client, {**declared(("b", 80)), "enable": True}, True))
    assert client.sent == [] and result["changed"]
    assert result["requests"][0] == "PUT options enable=1"
    assert [r["comment"] for r in result["rules"]] == ["b"]


def test_bad_options_name_every_field_at_once():
    with pytest.raises(InvalidInput) as error:
        check_firewall_options({"vnet": "v1", "policy_forward": "REJECT", "match": "digest",
                                "rules": [{"action": "ACCEPT", "dport": "22"}]})
    assert {"match", "policy_forward", "rules[0].dport"} <= set(error.value.errors), error.value.errors
