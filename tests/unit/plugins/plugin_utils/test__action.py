"""Connection options from PROXMOX_* environment variables, as AWX credentials inject them."""
from __future__ import annotations

import pytest

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._action import _from_environment


def test_values_are_converted_as_the_argument_spec_would(monkeypatch):
    monkeypatch.setenv("PROXMOX_PORT", "8443")
    monkeypatch.setenv("PROXMOX_VALIDATE_CERTS", "no")
    assert _from_environment("api_port") == 8443
    assert _from_environment("validate_certs") is False


def test_an_empty_variable_counts_as_unset_and_never_disables_tls(monkeypatch):
    monkeypatch.setenv("PROXMOX_VALIDATE_CERTS", "")
    monkeypatch.setenv("PROXMOX_PORT", " ")
    assert _from_environment("validate_certs") is None
    assert _from_environment("api_port") is None


@pytest.mark.parametrize(("variable", "option", "value"), [("PROXMOX_PORT", "api_port", "eighty"),
                                                           ("PROXMOX_VALIDATE_CERTS", "validate_certs", "maybe")])
def test_a_value_that_does_not_convert_names_the_variable(monkeypatch, variable, option, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidInput) as caught:
        _from_environment(option)
    assert variable in caught.value.errors[option]
