"""The simulator fixtures for these tests (tests.fixtures.marathon_sim)."""
from tests.fixtures.marathon_sim import marathon_sim, marathon_sim_factory, marathon_sim_server  # noqa: F401
