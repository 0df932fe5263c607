"""Commands run with manage.py."""
