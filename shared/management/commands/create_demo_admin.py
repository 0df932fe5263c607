"""`manage.py create_demo_admin`: the name `make run` calls; the same command as ensure_demo_admin."""
from shared.management.commands.ensure_demo_admin import Command  # noqa: F401
