"""Database migrations of the shared domain."""
