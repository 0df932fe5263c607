"""Catalog reads: apps with their container and configurations in a fixed number of queries."""
from django.db import connection
from django.db.models import Prefetch, Q

from shared.errors import NotFound, ValidationFailed
from shared.models import App, DockerContainer, MarathonConfig
from shared.statements import execute

# Sort keys a client may ask for; every order ends on the id so pages never overlap or skip.
APP_ORDERINGS = ("name", "-name", "created_at", "-created_at", "updated_at", "-updated_at", "id", "-id")
_MAX_ID = 2**63 - 1
SEARCH_MAX_LENGTH = 200


def _apps():
    # Containers are prefetched rather than joined: a page (ORDER BY ... LIMIT/OFFSET) then walks the apps'
    # index alone, and the containers and configurations of its rows come in one query each.
    return App.objects.prefetch_related(
        "docker_container", Prefetch("marathon_configs", queryset=MarathonConfig.objects.select_related("deployment").order_by("id"))
    )


def parse_id(value):
    """An id from a URL: a positive integer that fits a bigint, else None."""
    text = str(value)
    if not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if 0 < number <= _MAX_ID else None


def app_list(*, search=None, image=None, ordering=None):
    """Apps with their container and configurations: four queries for a page, whatever its size."""
    queryset = _apps()
    errors = {}
    if search:
        if len(search) > SEARCH_MAX_LENGTH or "\x00" in search:
            errors["search"] = [f"Give at most {SEARCH_MAX_LENGTH} characters, without NUL."]
        else:
            queryset = queryset.filter(Q(name__icontains=search) | Q(description__icontains=search))
    if image:
        if len(image) > 512 or "\x00" in image:
            errors["image"] = ["Give an image reference of at most 512 characters."]
        else:
            # The exact reference, or any tag or digest of that repository (?image=nginx finds nginx:1.27).
            queryset = queryset.filter(
                Q(docker_container__image=image)
                | Q(docker_container__image__startswith=f"{image}:")
                | Q(docker_container__image__startswith=f"{image}@")
            )
    if ordering:
        if ordering not in APP_ORDERINGS:
            errors["ordering"] = [f"Sort by one of: {', '.join(APP_ORDERINGS)}."]
        else:
            queryset = queryset.order_by(ordering, "-id" if ordering.startswith("-") else "id")
    else:
        queryset = queryset.order_by("name")
    if errors:
        raise ValidationFailed("The query has invalid parameters.", errors=errors)
    return queryset


def app_get(ref):
    """An app by id (a string of digits) or by name, with its container and configurations."""
    text = str(ref)
    number = parse_id(text)
    queryset = _apps()
    if number is not None:
        app = queryset.filter(pk=number).first()
    elif text.isdigit():
        app = None  # an id too large for the database
    else:
        app = queryset.filter(name=text).first() if len(text) <= 50 and "\x00" not in text else None
    if app is None:
        raise NotFound(f"App {text!r} does not exist.", errors=None)
    return app


def config_get(pk):
    number = parse_id(pk)
    config = MarathonConfig.objects.select_related("app", "deployment").filter(pk=number).first() if number else None
    if config is None:
        raise NotFound(f"Marathon configuration {pk!r} does not exist.")
    return config


def container_get(pk):
    number = parse_id(pk)
    container = DockerContainer.objects.select_related("app").filter(pk=number).first() if number else None
    if container is None:
        raise NotFound(f"Container {pk!r} does not exist.")
    return container


def catalog_version():
    """A number that changes whenever anything a catalog listing shows changes (apps, containers,
    configurations, deployments): triggers bump it inside the writing transaction, so a reader never sees a
    new version before the data it stands for. The row's xmin (the id of the transaction that wrote it) is
    part of it, so a number reused after a rolled-back write never names two different states."""
    with connection.cursor() as cursor:
        row = execute(cursor, "SELECT version, xmin FROM shared_catalog_version WHERE id = 1").fetchone()
    return f"{row[0]}.{row[1]}" if row else None
