"""Connection options from variables: PROXMOX_* environment variables (as AWX credentials inject them)
and host variables, converted strictly, as Ansible converts options."""
from __future__ import annotations

import pytest

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._host_settings import _convert, _from_environment


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


@pytest.mark.parametrize(("value", "expected"), [("false", False), ("False", False), ("no", False), ("0", False),
                                                 ("true", True), ("yes", True), ("1", True), (False, False), (1, True)])
def test_a_boolean_from_a_variable_is_parsed_as_ansible_parses_it(value, expected):
    # An INI inventory gives every value as a string: bool("false") would be True.
    assert _convert("validate_certs", value, "host variable pvefleet_sdn_validate_certs", "r1") is expected


@pytest.mark.parametrize(("option", "value"), [("validate_certs", "maybe"), ("validate_certs", "2"),
                                               ("api_port", "80.5"), ("api_port", True), ("api_timeout", "soon")])
def test_a_value_that_does_not_convert_names_its_source_and_host(option, value):
    with pytest.raises(InvalidInput) as caught:
        _convert(option, value, f"host variable pvefleet_sdn_{option}", "r1")
    assert f"pvefleet_sdn_{option}" in caught.value.errors[option] and "r1" in caught.value.errors[option]


def test_a_secret_that_does_not_convert_is_not_shown():
    with pytest.raises(InvalidInput) as caught:
        _convert("api_port", "s3cr3t-value", "host variable pvefleet_sdn_api_port", "r1")
    assert "s3cr3t-value" in caught.value.errors["api_port"]  # a port is no secret
    assert _convert("api_token_secret", 12345, "option", "r1") == "12345"
