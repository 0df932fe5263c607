"""Registry fixtures for these tests: a real docker-registry (open, and behind basic auth)."""
from tests.fixtures.registry import oci_auth_registry, oci_registry  # noqa: F401
