"""`manage.py ensure_demo_admin`: the demo superuser and an API token of it, their secrets kept under var/."""
import secrets
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from knox.auth import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from shared.services.accounts import demo_admin_ensure
from shared.services.tokens import token_create


def _kept(path, make):
    """The file's value, or a new one written with mode 600."""
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    value = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


def _token_valid(key, user):
    try:
        found_user, _ = TokenAuthentication().authenticate_credentials(key.encode())
    except (AuthenticationFailed, UnicodeError):
        return False
    return found_user.pk == user.pk


class Command(BaseCommand):
    help = ("Create the demo admin (a superuser) with the password kept in --password-file (generated there on "
            "the first run), and keep a valid API token of it in --token-file. Idempotent. Prints how to sign "
            "in, secrets included: meant for `make run` on a developer's machine.")

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password-file", help="Default: VAR_DIR/admin_password.")
        parser.add_argument("--token-file", help="Default: VAR_DIR/admin_token.")

    def handle(self, *args, username, password_file=None, token_file=None, **options):
        password_path = Path(password_file or settings.VAR_DIR / "admin_password")
        token_path = Path(token_file or settings.VAR_DIR / "admin_token")
        try:
            password = _kept(password_path, lambda: secrets.token_urlsafe(12))
        except OSError as exc:
            raise CommandError(f"cannot keep the password in {password_path}: {exc.strerror}") from None
        if len(password) < 8:
            raise CommandError(f"the password in {password_path} is shorter than 8 characters")
        user, _ = demo_admin_ensure(username, password)
        key = token_path.read_text().strip() if token_path.exists() else ""
        if not key or not _token_valid(key, user):
            _, key = token_create(user, name="make run demo", expires_days=0)
            token_path.unlink(missing_ok=True)
            _kept(token_path, lambda: key)
        self.stdout.write(f"http://127.0.0.1:{settings.PORT}/accounts/login/  user {username}, password {password}")
        self.stdout.write(f"API token {key}  (Authorization: Token <key>; kept in {token_path})")
