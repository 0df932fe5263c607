"""The command line built from a descriptor's value keys agrees with Boutiques' own `bosh exec simulate`."""
import json

import pytest
from boutiques import bosh

from shared.boutiques import build_command_line, descriptor_errors, invocation_errors
from tests.fixtures.descriptors import COMMAND_WITH_PORT, CONTAINER_WITH_ENV, NO_INPUTS


def bosh_command_line(desc, inputs, tmp_path):
    path = tmp_path / "descriptor.json"
    path.write_text(json.dumps(desc))
    return bosh(["exec", "simulate", str(path), "-i", json.dumps(inputs)]).shell_command


@pytest.mark.parametrize("desc,inputs", [
    (COMMAND_WITH_PORT, {"port": 8080}),
    (COMMAND_WITH_PORT, {"port": 8080, "bind": "0.0.0.0"}),
    (COMMAND_WITH_PORT, {"port": 1, "bind": "a b; rm -rf / $(id) `x` 'q' \"d\"", "verbose": True}),
    (COMMAND_WITH_PORT, {"port": 2, "verbose": False, "directory": "/srv/my files"}),
    (COMMAND_WITH_PORT, {"port": 3, "extra": ["one", "two words", "it's"]}),
    (CONTAINER_WITH_ENV, {"input": "sub 01.nii", "output": "o.nii.gz", "fraction": 0.5}),
    (CONTAINER_WITH_ENV, {"input": "x.nii", "output": "o.nii.gz"}),
    (NO_INPUTS, {}),
    (NO_INPUTS, {"no_newline": True}),
])
def test_the_command_line_agrees_with_bosh_exec_simulate(desc, inputs, tmp_path):
    assert not descriptor_errors(desc)
    assert not invocation_errors(desc, inputs)
    assert build_command_line(desc, inputs) == bosh_command_line(desc, inputs, tmp_path)


def test_values_are_shell_quoted():
    line = build_command_line(COMMAND_WITH_PORT, {"port": 80, "bind": "x; rm -rf /"})
    assert line == "python -m http.server 80 --bind 'x; rm -rf /'"


def test_invocation_errors_name_each_input():
    errors = invocation_errors(CONTAINER_WITH_ENV, {"fraction": 2, "nope": 1})
    assert "inputs.fraction" in errors and "inputs.nope" in errors
    assert any("input" in message for message in errors["inputs"])  # the required input is missing
