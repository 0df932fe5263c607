"""Catalog changes made from an image's metadata: create an app from it, refresh one, forget fields people edit."""
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from shared.catalog_rules import RuleError, check_text, clean_vcs_url
from shared.models import App, DockerContainer, MarathonConfig
from shared.registry.metadata import CatalogSuggestion, ImageMetadata
from shared.services.webhooks import app_changed

# The catalog fields an image may supply, and where each lives: on the app, its container, or the configuration
# made at import. `name` is only ever set at import: a refresh never renames an app.
APP_FIELDS = ("description", "vcs_url", "command")
LABEL_FIELDS = ("name",) + APP_FIELDS + ("ports", "memory")


class DuplicateName(Exception):
    """Another app already has the name an import wanted."""

    code = "duplicate_name"
    retryable = False

    def __init__(self, name):
        super().__init__(f"An app named {name!r} already exists; import it under another name.")
        self.message = str(self)
        self.details = {"name": name}


def _usable(field, value):
    """The value, if it passes the catalog's rule for the field; None otherwise (a label is not trusted)."""
    try:
        if field == "vcs_url":
            return clean_vcs_url(value) or None
        if field in ("description", "command"):
            return check_text(value, field) or None
    except RuleError:
        return None
    return value


def suggested_values(suggestion: CatalogSuggestion) -> tuple[dict, dict]:
    """(values the catalog accepts, {field: why it was left out}) for the fields the image supplied."""
    values, skipped = {}, {}
    for field in LABEL_FIELDS:
        if field not in suggestion.from_labels:
            continue
        raw = getattr(suggestion, field)
        value = _usable(field, raw)
        if value in (None, "", []):
            skipped[field] = f"{raw!r} does not pass the catalog's rule for {field}"
            continue
        values[field] = value
    return values, skipped


def app_create_from_metadata(*, image, metadata: ImageMetadata, suggestion: CatalogSuggestion, name=None,
                             owner=None):
    """Create an app (container, ports, one default configuration) from an image's metadata.

    Returns (app, config, applied): `applied` holds the values taken from the image, the snapshot a later
    refresh compares with. Raises DuplicateName when the name is taken.
    """
    values, skipped = suggested_values(suggestion)
    app_name = name or values.get("name") or suggestion.name
    from_labels = [field for field in LABEL_FIELDS if field in values and not (field == "name" and name)]
    try:
        with transaction.atomic():
            if App.objects.filter(name=app_name).exists():
                raise DuplicateName(app_name)
            app = App.objects.create(
                name=app_name,
                description=values.get("description", ""),
                vcs_url=values.get("vcs_url", ""),
                command=values.get("command", ""),
                image_labels=dict(metadata.labels),
                fields_from_labels=from_labels,
                owner=owner,
            )
            DockerContainer.objects.create(app=app, image=image, ports=list(values.get("ports", [])))
            config = MarathonConfig.objects.create(
                app=app,
                cpu=Decimal(str(settings.IMPORT_DEFAULT_CPU)).quantize(Decimal("0.001")),
                memory=values.get("memory") or settings.IMPORT_DEFAULT_MEMORY,
                instances=1,
            )
            app_changed(app, "created")  # webhook deliveries commit with the app
    except IntegrityError:
        # The unique name lost a race with another request.
        raise DuplicateName(app_name) from None
    applied = {field: values[field] for field in from_labels}
    return app, config, {"values": applied, "config": config.pk, "skipped": skipped}


def _current(app, field, config):
    if field in APP_FIELDS:
        return getattr(app, field)
    if field == "ports":
        container = DockerContainer.objects.filter(app=app).first()
        return list(container.ports) if container else None
    if field == "memory":
        return config.memory if config is not None else None
    return None


def app_refresh_from_metadata(app, *, metadata: ImageMetadata, suggestion: CatalogSuggestion, previous=None):
    """Rewrite the fields still listed in app.fields_from_labels, unless their value changed since the image
    last set them (`previous`: the snapshot returned by the last import or refresh). Never renames the app.

    Returns {"updated": [...], "kept": {field: why}, "values": snapshot, "config": id, "skipped": {...}}.
    """
    values, skipped = suggested_values(suggestion)
    previous = previous or {}
    previous_values = previous.get("values", {})
    with transaction.atomic():
        app = App.objects.select_for_update().get(pk=app.pk)
        config = MarathonConfig.objects.filter(app=app, pk=previous.get("config")).first() \
            if previous.get("config") else None
        listed = [field for field in app.fields_from_labels if field in LABEL_FIELDS]
        updated, kept, snapshot = [], {}, {}
        app_changes = {}
        for field in listed:
            if field == "name":
                continue
            current = _current(app, field, config)
            if field in previous_values and current != previous_values[field]:
                kept[field] = "changed since the image set it"
                continue
            if field == "memory" and config is None:
                kept[field] = "the configuration made at import is gone"
                continue
            if field not in values:
                snapshot[field] = current  # the image no longer says; keep what it said last
                continue
            snapshot[field] = values[field]
            if current == values[field]:
                continue
            updated.append(field)
            if field in APP_FIELDS:
                app_changes[field] = values[field]
            elif field == "ports":
                DockerContainer.objects.filter(app=app).update(ports=list(values[field]))
            elif field == "memory":
                MarathonConfig.objects.filter(pk=config.pk).update(memory=values[field])
        # A field changed outside the catalog API was still a person's edit: it stops being the image's.
        remaining = [field for field in app.fields_from_labels if field not in kept]
        App.objects.filter(pk=app.pk).update(image_labels=dict(metadata.labels), fields_from_labels=remaining,
                                             **app_changes)
        if updated:
            app.refresh_from_db()
            app_changed(app, "updated")
    return {"updated": updated, "kept": kept, "values": snapshot, "config": config.pk if config else None,
            "skipped": skipped}


def app_fields_edited(app, fields):
    """A person set these catalog fields: they are no longer the image's to change (refresh leaves them).

    `fields` uses the catalog names: description, vcs_url, command, name, ports (the container's), memory.
    """
    fields = {field for field in fields if field in LABEL_FIELDS}
    if not fields:
        return
    with transaction.atomic():
        current = App.objects.select_for_update().filter(pk=app.pk).values_list("fields_from_labels", flat=True)
        listed = current.first()
        if not listed:
            return
        remaining = [field for field in listed if field not in fields]
        if remaining != listed:
            App.objects.filter(pk=app.pk).update(fields_from_labels=remaining)
    if hasattr(app, "fields_from_labels") and isinstance(app.fields_from_labels, list):
        app.fields_from_labels = [field for field in app.fields_from_labels if field not in fields]


def label_field_values(app):
    """The current values of the fields an image may supply, to compare before and after a person's edit.

    Memory is per configuration ({config id: memory}): changing any configuration's memory is an edit of it.
    """
    container = DockerContainer.objects.filter(app_id=app.pk).values_list("ports", flat=True).first()
    app_values = App.objects.filter(pk=app.pk).values(*APP_FIELDS).first() or {}
    return {
        **app_values,
        "ports": list(container) if container is not None else None,
        "memory": dict(MarathonConfig.objects.filter(app_id=app.pk).values_list("id", "memory")),
    }


def label_fields_before_edit(app_id):
    """Call before a person's catalog change (in its transaction): the values to compare with afterwards, or
    None when no field of the app comes from labels (then nothing needs comparing)."""
    listed = App.objects.filter(pk=app_id).values_list("fields_from_labels", flat=True).first()
    return label_field_values(App(pk=app_id)) if listed else None


def app_note_person_edits(app, before):
    """After a person's change through the catalog: fields whose value changed stop coming from labels."""
    if before is None:
        return
    after = label_field_values(app)
    changed = [field for field in after if after[field] != before.get(field)]
    if "memory" in changed:
        # Adding or deleting a configuration is not an edit of the memory of the one the import made.
        common = set(after["memory"]) & set(before.get("memory") or {})
        if all(after["memory"][pk] == before["memory"][pk] for pk in common):
            changed.remove("memory")
    app_fields_edited(app, changed)
