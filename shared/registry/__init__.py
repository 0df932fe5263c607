"""Image references, registry and MicroBadger-compatible metadata sources, and the label-to-catalog mapping."""
