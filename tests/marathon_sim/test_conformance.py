"""Runs the shared Marathon conformance kit against a fresh simulator."""
import subprocess
import sys
from pathlib import Path

import pytest

KIT = Path("/work/shared/marathon/conformance.py")


@pytest.mark.skipif(not KIT.exists(), reason="the conformance kit is not present on this machine")
def test_conformance_kit_passes(marathon_sim_factory):
    sim = marathon_sim_factory(step_seconds=0.2)
    result = subprocess.run([sys.executable, str(KIT), "--base-url", sim.url], capture_output=True, text=True,
                            timeout=600)
    assert " 0 failed" in result.stdout, result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0
