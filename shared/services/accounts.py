"""Users and roles: the role groups, and the demo admin that `make run` creates."""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from shared.permissions import ROLES
from shared.services.audit import audit_record


def role_groups_ensure():
    """The groups `viewer`, `deployer` and `admin` exist (idempotent)."""
    return {name: Group.objects.get_or_create(name=name)[0] for name in ROLES}


def user_set_role(user, role):
    """Put the user in exactly one role group (None: no role, a plain viewer)."""
    if role is not None and role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    groups = role_groups_ensure()
    with transaction.atomic():
        user.groups.remove(*groups.values())
        if role is not None:
            user.groups.add(groups[role])
    user.__dict__.pop("_maracker_groups", None)
    return user


def demo_admin_ensure(username, password):
    """A superuser `username` with this password: created, or its password reset. Returns (user, created)."""
    User = get_user_model()
    role_groups_ensure()
    with transaction.atomic():
        user, created = User.objects.get_or_create(username=username, defaults={"is_staff": True,
                                                                                 "is_superuser": True})
        if created or not user.check_password(password) or not (user.is_superuser and user.is_active):
            user.is_staff = user.is_superuser = user.is_active = True
            user.set_password(password)
            user.save()
            audit_record(None, "user.created" if created else "user.updated", "user", user.pk,
                         f"demo admin {username} {'created' if created else 'reset'}")
    return user, created
