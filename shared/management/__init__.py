"""Management commands of the shared app."""
