"""Who may do what on the pages: the one place these rules live, so they can be tightened in one edit.

Browsing is open to everyone; every page that changes something (deploy, stop, restart, scale, cancel, edit,
import) needs a signed-in user. Roles and ownership checks belong in `can_change` once accounts have them.
"""
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

# Views that change things: anonymous visitors are sent to the login page first.
change_required = login_required


def can_change(user, obj=None):
    """Whether `user` may change `obj` (an app, configuration or job; None: create something new)."""
    return bool(user and user.is_authenticated and user.is_active)


def ensure_can_change(user, obj=None):
    """403 unless `can_change`."""
    if not can_change(user, obj):
        raise PermissionDenied("You may not change this.")
