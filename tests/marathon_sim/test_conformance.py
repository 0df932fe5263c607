"""Runs the shared Marathon conformance kit against a fresh simulator."""
import subprocess
import sys

from tests.fixtures.paths import CONFORMANCE_KIT

KIT = CONFORMANCE_KIT


def test_conformance_kit_passes(marathon_sim_factory):
    assert KIT.exists(), f"the conformance kit is expected at {KIT} (set MARATHON_REFERENCE_DIR)"
    sim = marathon_sim_factory(step_seconds=0.2)
    result = subprocess.run([sys.executable, str(KIT), "--base-url", sim.url], capture_output=True, text=True,
                            timeout=600)
    assert " 0 failed" in result.stdout, result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0
