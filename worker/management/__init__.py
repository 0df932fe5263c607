"""Management commands of the workers."""
