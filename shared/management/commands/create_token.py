"""`manage.py create_token --user NAME`: create an API token and print its key (shown this once only)."""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from shared.errors import ValidationFailed
from shared.services.tokens import token_create


class Command(BaseCommand):
    help = "Create an API token for a user and print the key on standard output (it cannot be shown again)."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="The username.")
        parser.add_argument("--name", default="", help="A name to recognise the token by.")
        parser.add_argument("--expires-days", type=int, default=None,
                            help="Days until it expires (0: never; default API_TOKEN_DEFAULT_EXPIRY_DAYS).")

    def handle(self, *args, user, name, expires_days, **options):
        found = get_user_model().objects.filter(username=user).first()
        if found is None:
            raise CommandError(f"no user named {user!r}")
        if not found.is_active:
            raise CommandError(f"user {user!r} is not active")
        try:
            token, key = token_create(found, name=name, expires_days=expires_days)
        except ValidationFailed as exc:
            raise CommandError("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.errors.items())) from None
        self.stderr.write(f"token {token.token_key} for {user}"
                          + (f", expires {token.expiry:%Y-%m-%d %H:%M} UTC" if token.expiry else ", no expiry"))
        self.stdout.write(key)
