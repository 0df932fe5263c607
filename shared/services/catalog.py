"""Catalog writes: apps with their container and configurations, each change in one transaction."""
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet

from shared.catalog_rules import (
    APP_RULES,
    CONFIG_RULES,
    CONTAINER_RULES,
    INSTANCES_DEFAULT,
    clean_config_body,
    clean_configs_body,
    clean_container_body,
    clean_fields,
)
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.models import App, DockerContainer, MarathonConfig
from shared.services.audit import audit_entry, audit_record
from shared.services.image_import import app_note_person_edits, label_fields_before_edit
from shared.services.webhooks import app_changed, webhook_subscribers
from shared.statements import insert_family

APP_FIELDS = ("name", "description", "command", "vcs_url", "labels")
CONTAINER_FIELDS = ("type", "image", "ports")
CONFIG_FIELDS = ("cpu", "memory", "instances", "args", "env_vars", "health_check_path")
_REQUIRED = "This field is required."


def _raise_if(errors):
    if errors:
        raise ValidationFailed("The request has invalid fields.", errors=errors)


def _require(data, fields, prefix, errors):
    for field in fields:
        if field not in data:
            errors.setdefault(f"{prefix}.{field}" if prefix else field, []).append(_REQUIRED)


def _duplicate_name(exc, name):
    """Turn the unique-name violation (also the one a concurrent request wins) into a 409; re-raise others."""
    constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", "") or ""
    if "name" not in constraint:
        raise exc
    return Conflict(
        f"An app named {name!r} already exists.",
        code="duplicate_name",
        errors={"name": [f"An app named {name!r} already exists."]},
    )


def _cache_relations(app, container, configs):
    """Fill the relation caches a serializer reads, so answering a write costs no further queries."""
    App.docker_container.related.set_cached_value(app, container)
    queryset = QuerySet(model=MarathonConfig)  # stands for app.marathon_configs.all(), already fetched
    queryset._result_cache = list(configs)
    queryset._prefetch_done = True
    app._prefetched_objects_cache = {"marathon_configs": queryset}
    return app


def _clean_container(data, prefix, errors, *, required):
    return clean_container_body(data, prefix, errors, required=required)


def _clean_config(data, prefix, errors, *, required):
    return clean_config_body(data, prefix, errors, required=required)


def _clean_configs(items, errors, *, partial):
    return clean_configs_body(items, errors, partial=partial)


def _new_config(app, data):
    values = {field: data[field] for field in CONFIG_FIELDS if field in data}
    values.setdefault("instances", INSTANCES_DEFAULT)
    config = MarathonConfig(app=app, **values)
    config._state.fields_cache["deployment"] = None  # a new configuration runs nowhere yet: no query to ask
    return config


def app_create(*, name, description="", command="", vcs_url="", labels=None, docker_container=None,
               marathon_configs=(), actor=None):
    """Create an app with its optional container and its configurations, all or nothing; `actor` owns it."""
    errors = {}
    fields = clean_fields(
        {"name": name, "description": description, "command": command, "vcs_url": vcs_url,
         "labels": {} if labels is None else labels},
        APP_RULES, "", errors,
    )
    container_data = _clean_container(docker_container, "docker_container", errors, required=True)
    configs_data = _clean_configs(marathon_configs, errors, partial=False)
    _raise_if(errors)
    app = App(**fields, owner=actor if getattr(actor, "pk", None) else None)
    container = DockerContainer(app=app, **container_data) if container_data is not None else None
    configs = [_new_config(app, data) for data in configs_data]
    audit = audit_entry(actor, "app.created", "app", "", f"created app {app.name}")
    # The app, its container, its configurations and the audit entry in one statement (a create is a hot
    # path: Django would compile and send five).
    family = [*([(container, "app_id", "p.id")] if container else []),
              *[(config, "app_id", "p.id") for config in configs],
              (audit, "target_id", "p.id::text")]
    # Only subscriptions to every app can receive the creation of an app that has no id yet.
    subscribers = webhook_subscribers("app.created")
    try:
        if subscribers or connection.in_atomic_block:
            with transaction.atomic():
                insert_family(app, family)
                app_changed(app, "created", subscribers=subscribers)  # deliveries commit with the app
        else:
            # Nothing else to write: the one statement is a transaction of its own (no BEGIN, no COMMIT).
            insert_family(app, family)
    except IntegrityError as exc:
        raise _duplicate_name(exc, name) from None
    return _cache_relations(app, container, configs)


def _apply(instance, values, fields):
    changed = []
    for field in fields:
        if field in values and getattr(instance, field) != values[field]:
            setattr(instance, field, values[field])
            changed.append(field)
    return changed


def app_update(app, *, data, partial=False, actor=None):
    """Update an app from request-shaped data.

    Members absent from `data` are left as they are (for a full update, `name` is required). A
    `docker_container` object updates or creates the container, `null` removes it. `marathon_configs`, when
    present, is the whole new list: items carrying an `id` of this app's configurations are kept (same id)
    and updated, items without one are created, and this app's other configurations are deleted.
    """
    errors = {}
    if not partial:
        _require(data, ("name",), "", errors)
    fields = clean_fields({key: data[key] for key in APP_FIELDS if key in data}, APP_RULES, "", errors)
    if fields.get("labels", ...) is None:
        fields["labels"] = {}
    has_container = "docker_container" in data
    container_data = None
    if has_container and data["docker_container"] is not None:
        # Whether an image is required depends on whether the app has a container; checked under the lock.
        container_data = _clean_container(data["docker_container"], "docker_container", errors, required=False)
    has_configs = "marathon_configs" in data
    configs_data = _clean_configs(data["marathon_configs"], errors, partial=partial) if has_configs else None
    _raise_if(errors)

    try:
        with transaction.atomic():
            # The row lock serialises concurrent updates of one app's container and configuration list.
            locked = (App.objects.select_for_update(of=("self",)).select_related("docker_container")
                      .filter(pk=app.pk).first())
            if locked is None:
                raise NotFound(f"App {app.pk} does not exist.")
            app = locked
            before_edit = label_fields_before_edit(app.pk)  # image metadata: see the end of this block
            _apply(app, fields, APP_FIELDS)
            app.save()  # always: updated_at records the change of the app or of its parts

            container = getattr(app, "docker_container", None) if _has_container(app) else None
            if has_container:
                container = _write_container(app, container, container_data, partial=partial)

            if has_configs:
                configs = _write_configs(app, configs_data, partial=partial)
            else:
                configs = list(MarathonConfig.objects.filter(app=app).select_related("deployment").order_by("id"))
            # A field a person changed no longer comes from the image's labels: a refresh leaves it alone.
            app_note_person_edits(app, before_edit)
            app_changed(app, "updated")
            audit_record(actor, "app.updated", "app", app.pk,
                         f"updated app {app.name}: {', '.join(sorted(k for k in data if k != 'id')) or 'nothing'}")
    except IntegrityError as exc:
        raise _duplicate_name(exc, fields.get("name", app.name)) from None
    return _cache_relations(app, container, configs)


def _has_container(app):
    try:
        app.docker_container
    except DockerContainer.DoesNotExist:
        return False
    return True


def _write_container(app, container, container_data, *, partial):
    if container_data is None:
        if container is not None:
            container.delete()
        App.docker_container.related.set_cached_value(app, None)
        return None
    if container is None:
        if "image" not in container_data:
            raise ValidationFailed("The request has invalid fields.",
                                   errors={"docker_container.image": [_REQUIRED]})
        container = DockerContainer.objects.create(app=app, **container_data)
        return container
    if not partial and "image" not in container_data:
        raise ValidationFailed("The request has invalid fields.", errors={"docker_container.image": [_REQUIRED]})
    if not partial:
        container_data.setdefault("ports", [])
    changed = _apply(container, container_data, CONTAINER_FIELDS)
    if changed:
        container.save(update_fields=changed)
    return container


def _write_configs(app, configs_data, *, partial):
    existing = {
        config.pk: config
        for config in MarathonConfig.objects.filter(app=app).select_related("deployment").select_for_update(of=("self",))
    }
    errors = {}
    for index, item in enumerate(configs_data):
        if "id" in item and item["id"] not in existing:
            errors.setdefault(f"marathon_configs[{index}].id", []).append(
                f"App {app.name!r} has no configuration with id {item['id']}."
            )
    _raise_if(errors)
    kept, created = [], []
    for item in configs_data:
        if "id" in item:
            config = existing[item["id"]]
            values = dict(item)
            if not partial:
                values.setdefault("instances", INSTANCES_DEFAULT)
                values.setdefault("args", [])
                values.setdefault("env_vars", {})
                values.setdefault("health_check_path", "/")
            if _apply(config, values, CONFIG_FIELDS):
                config.save()
            kept.append(config)
        else:
            created.append(_new_config(app, item))
    kept_ids = {config.pk for config in kept}
    stale = [pk for pk in existing if pk not in kept_ids]
    if stale:
        MarathonConfig.objects.filter(pk__in=stale).delete()
    created = MarathonConfig.objects.bulk_create(created)
    return sorted(kept + created, key=lambda config: config.pk)


def app_delete(app, *, actor=None):
    """Delete an app with its container and configurations (jobs and deployments keep their history)."""
    with transaction.atomic():
        app_changed(app, "deleted")  # before the row goes: the event carries the app
        audit_record(actor, "app.deleted", "app", app.pk, f"deleted app {app.name}")
        app.delete()


def marathon_config_create(app, *, data, actor=None):
    """Add a configuration to an app."""
    errors = {}
    cleaned = _clean_config(data, "", errors, required=True)
    cleaned.pop("id", None)
    _raise_if(_strip_prefix(errors))
    with transaction.atomic():
        config = _new_config(app, cleaned)
        config.save()
        app_changed(app, "updated")
        audit_record(actor, "config.created", "config", config.pk, f"added configuration {config.pk} to {app.name}")
    config.app = app
    return config


def marathon_config_update(config, *, data, partial=False, actor=None):
    """Update one configuration; a full update resets the optional members that are absent."""
    errors = {}
    cleaned = _clean_config(data, "", errors, required=not partial)
    cleaned.pop("id", None)
    _raise_if(_strip_prefix(errors))
    if not partial:
        cleaned.setdefault("instances", INSTANCES_DEFAULT)
        cleaned.setdefault("args", [])
        cleaned.setdefault("env_vars", {})
        cleaned.setdefault("health_check_path", "/")
    with transaction.atomic():
        before_edit = label_fields_before_edit(config.app_id)  # image metadata: as in app_update
        changed = _apply(config, cleaned, CONFIG_FIELDS)
        if changed:
            config.save()
        app_note_person_edits(config.app, before_edit)
        if changed:
            app_changed(config.app, "updated")
        audit_record(actor, "config.updated", "config", config.pk,
                     f"updated configuration {config.pk}: {', '.join(changed) or 'nothing'}")
    return config


def marathon_config_delete(config, *, actor=None):
    """Delete one configuration (its jobs and deployment records keep their history)."""
    with transaction.atomic():
        audit_record(actor, "config.deleted", "config", config.pk, f"deleted configuration {config.pk}")
        app = config.app
        config.delete()
        app_changed(app, "updated")


def container_update(container, *, data, partial=False, actor=None):
    """Update an app's container; a full update needs the image and resets absent ports to none."""
    errors = {}
    cleaned = _clean_container(data, "", errors, required=not partial) or {}
    _raise_if(_strip_prefix(errors))
    if not partial:
        cleaned.setdefault("ports", [])
    with transaction.atomic():
        before_edit = label_fields_before_edit(container.app_id)  # image metadata: as in app_update
        changed = _apply(container, cleaned, CONTAINER_FIELDS)
        if changed:
            container.save(update_fields=changed)
        app_note_person_edits(container.app, before_edit)
        if changed:
            app_changed(container.app, "updated")
        audit_record(actor, "container.updated", "container", container.pk,
                     f"updated the container of app {container.app_id}: {', '.join(changed) or 'nothing'}")
    return container


def _strip_prefix(errors):
    """Field paths of a top-level object: ".memory" becomes "memory", "" becomes "body"."""
    return {(path.lstrip(".") or "body"): messages for path, messages in errors.items()}
