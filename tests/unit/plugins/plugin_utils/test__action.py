"""The edge every action plugin shares: what a failed result says."""
from __future__ import annotations

from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import CONNECTION
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._action import _plain_validation_message

INTERNAL = ("argument 'timeout' is of type str and we were unable to convert to float: "
            "<class 'ansible.module_utils._internal._datatag._AnsibleTaggedStr'> cannot be converted to a float")


def test_a_conversion_error_shows_the_value_not_ansibles_internal_class():
    message = _plain_validation_message(INTERNAL, {"timeout": "soon"}, {"timeout": {"type": "float"}})
    assert message == ("argument 'timeout' is of type str and we were unable to convert to float: "
                       "'soon' cannot be converted to a float")


def test_a_secret_that_does_not_convert_is_not_shown():
    text = INTERNAL.replace("'timeout'", "'api_token_secret'")
    message = _plain_validation_message(text, {"api_token_secret": "s3cr3t"}, CONNECTION)
    assert "s3cr3t" not in message and "(a secret)" in message and "_AnsibleTagged" not in message


def test_an_error_about_no_given_argument_keeps_its_text_without_the_class_path():
    text = "something <class 'ansible.module_utils._internal._datatag._AnsibleTaggedStr'> odd"
    assert _plain_validation_message(text, {}, {}) == "something str odd"
