"""Read-only queries of the domain."""
