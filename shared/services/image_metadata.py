"""Image metadata jobs: record lookups, imports and refreshes, and carry them out against the configured source."""
import json
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shared.catalog_rules import RuleError, clean_name
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.models import App, DockerContainer, Job, JobKind, JobStatus
from shared.registry.cache import DjangoCache
from shared.registry.client import RegistryClient
from shared.registry.errors import RegistryError
from shared.registry.metadata import suggest_catalog_fields
from shared.registry.microbadger import MicroBadgerClient
from shared.registry.reference import InvalidReference, parse_reference
from shared.services import jobs as job_services
from shared.services.audit import audit_record
from shared.services.image_import import DuplicateName, app_create_from_metadata, app_refresh_from_metadata

logger = logging.getLogger(__name__)

METADATA_KINDS = frozenset({JobKind.IMAGE_LOOKUP, JobKind.APP_IMPORT, JobKind.METADATA_REFRESH})

# --- creating the jobs (request time) -----------------------------------------------------------------------


def _check_image(image):
    """The reference, or a 400 naming `image` (raised before any job exists)."""
    if not isinstance(image, str):
        raise ValidationFailed("image must be a string.", errors={"image": ["Must be a string."]})
    try:
        return parse_reference(image)
    except InvalidReference as exc:
        raise ValidationFailed(f"image is not a valid image reference: {exc.message}",
                               errors={"image": [exc.message]}) from None


def image_lookup_create(*, image, idempotency_key=None, requested_by=None, scope=""):
    """Record an image_lookup job; returns (job, created)."""
    reference = _check_image(image)
    return job_services.job_create(kind=JobKind.IMAGE_LOOKUP, params={"image": image, "reference": str(reference)},
                                   idempotency_key=idempotency_key, requested_by=requested_by, scope=scope)


def app_import_create(*, image, name=None, idempotency_key=None, requested_by=None, scope=""):
    """Record an app_import job (the app is created when it runs); returns (job, created)."""
    reference = _check_image(image)
    if name is not None:
        try:
            clean_name(name)
        except RuleError as exc:
            raise ValidationFailed(f"name: {exc}", errors={"name": [str(exc)]}) from None
    params = {"image": image, "reference": str(reference)}
    if name:
        params["name"] = name
    return job_services.job_create(kind=JobKind.APP_IMPORT, params=params, idempotency_key=idempotency_key,
                                   requested_by=requested_by, scope=scope)


def metadata_refresh_create(app, *, idempotency_key=None, requested_by=None, scope=""):
    """Record a metadata_refresh job for an app (or its id or name) with a container image; returns (job, created)."""
    if not isinstance(app, App):
        text = str(app)
        found = App.objects.filter(pk=int(text)).first() if text.isdigit() and len(text) < 19 else None
        found = found or App.objects.filter(name=text).first()
        if found is None:
            raise NotFound(f"No app has the id or name {text!r}.")
        app = found
    container = DockerContainer.objects.filter(app=app).first()
    if container is None or not container.image:
        raise Conflict(f"App {app.name} has no container image to read metadata from.", code="no_image")
    return job_services.job_create(kind=JobKind.METADATA_REFRESH, app=app, params={"image": container.image},
                                   idempotency_key=idempotency_key, requested_by=requested_by, scope=scope)


# --- the source ---------------------------------------------------------------------------------------------

_sources = {}


def _source_key():
    return json.dumps([
        settings.METADATA_SOURCE, settings.MICROBADGER_URL, settings.REGISTRY_CREDENTIALS,
        list(settings.REGISTRY_INSECURE), settings.REGISTRY_PLATFORM, settings.REGISTRY_CONNECT_TIMEOUT,
        settings.REGISTRY_READ_TIMEOUT, settings.REGISTRY_MAX_MANIFEST_BYTES, settings.REGISTRY_MAX_CONFIG_BYTES,
        settings.REGISTRY_RETRIES, settings.REGISTRY_MAX_RETRY_AFTER, settings.REGISTRY_CACHE_TTL,
    ], sort_keys=True, default=str)


def metadata_source():
    """The client for METADATA_SOURCE, one per process and settings (its HTTP session keeps connections)."""
    key = _source_key()
    client = _sources.get(key)
    if client is None:
        if settings.METADATA_SOURCE == "microbadger":
            client = MicroBadgerClient.from_settings()
        else:
            client = RegistryClient.from_settings()
        _sources.clear()
        _sources[key] = client
    return client


def image_metadata_get(image):
    """(ImageMetadata, CatalogSuggestion) for an image from the configured source, cached by manifest digest."""
    reference = parse_reference(image)
    metadata = metadata_source().lookup(reference, cache=DjangoCache())
    return metadata, suggest_catalog_fields(metadata, repository=reference.repository)


# --- carrying the jobs out (worker) -------------------------------------------------------------------------


def _registry_error(error):
    details = {key: value for key, value in error.as_dict().items() if key not in ("code", "message", "retryable")}
    return {"code": error.code, "message": error.message, "retryable": error.retryable, "details": details or None}


def _fail(job, code, message, details=None):
    return job_services.job_fail(job, {"code": code, "message": message, "retryable": False, "details": details})


def metadata_job_execute(job_id):
    """One attempt at a queued metadata job. Safe to call twice: only the caller that claims the job runs it."""
    job = job_services.job_claim(job_id)
    if job is None:
        return None
    if job.cancel_requested:
        return job_services.job_mark_cancelled(job, message="cancelled before the lookup")
    if timezone.now() > job.deadline:
        return job_services.job_fail_past_deadline(job, "The job's deadline passed before it could run.",
                                                   claimed=True)
    handler = HANDLERS.get(job.kind)
    if handler is None:
        return _fail(job, "unsupported_kind", f"No metadata handler for {job.kind} jobs.")
    image = job.params.get("image")
    if job.kind == JobKind.METADATA_REFRESH:
        container = DockerContainer.objects.filter(app_id=job.app_id).first() if job.app_id else None
        if container is None:
            return _fail(job, "app_deleted", "The app or its container was deleted before the job ran.")
        image = container.image
    job_services.job_event(job, "lookup", f"reading the metadata of {image} ({settings.METADATA_SOURCE})",
                           {"image": image, "source": settings.METADATA_SOURCE})
    try:
        metadata, suggestion = image_metadata_get(image)
    except InvalidReference as exc:
        return _fail(job, "invalid_reference", exc.message, {"image": image})
    except RegistryError as error:
        error_dict = _registry_error(error)
        job_services.job_event(job, "registry_error", f"{error.code}: {error.message}", error_dict)
        job.refresh_from_db()
        if job.status == JobStatus.RUNNING:
            return job_services.job_retry_or_fail(job, error_dict, min_delay=error.retry_after)
        return job
    return handler(job, image, metadata, suggestion)


def _lookup_result(image, metadata, suggestion):
    return {"image": image, "metadata": metadata.to_dict(), "suggestion": suggestion.to_dict()}


def _lookup(job, image, metadata, suggestion):
    return job_services.job_mark_succeeded(job, message=f"read {len(metadata.labels)} labels of {image}",
                                           result=_lookup_result(image, metadata, suggestion))


def _import(job, image, metadata, suggestion):
    name = job.params.get("name") or suggestion.name
    if not name:
        return _fail(job, "no_name", "The image suggests no name; give one in the request.")
    try:
        with transaction.atomic():
            app, config, applied = app_create_from_metadata(
                image=image, metadata=metadata, suggestion=suggestion, name=job.params.get("name"),
                owner=job.requested_by)
            Job.objects.filter(pk=job.pk).update(app=app, app_name=app.name)
            audit_record(job.requested_by, "app.created", "app", app.pk, f"imported app {app.name} from {image}")
            return job_services.job_mark_succeeded(
                job, message=f"created app {app.name} (configuration {config.pk})",
                result={**_lookup_result(image, metadata, suggestion), "app": app.pk, "config": config.pk,
                        "fields_from_labels": app.fields_from_labels, "applied": applied},
            )
    except DuplicateName as exc:
        return _fail(job, exc.code, exc.message, exc.details)


def _last_applied(app_id):
    """The snapshot of values the image set last time (from the last import or refresh that succeeded)."""
    last = (
        Job.objects.filter(app_id=app_id, kind__in=[JobKind.APP_IMPORT, JobKind.METADATA_REFRESH],
                           status=JobStatus.SUCCEEDED)
        .order_by("-finished_at").values_list("result", flat=True).first()
    )
    return (last or {}).get("applied") if isinstance(last, dict) else None


def _refresh(job, image, metadata, suggestion):
    with transaction.atomic():
        outcome = app_refresh_from_metadata(job.app, metadata=metadata, suggestion=suggestion,
                                            previous=_last_applied(job.app_id))
        applied = {"values": outcome["values"], "config": outcome["config"], "skipped": outcome["skipped"]}
        updated = ", ".join(outcome["updated"]) or "nothing"
        audit_record(job.requested_by, "app.refreshed", "app", job.app_id,
                     f"refreshed {job.app.name} from {image}: updated {updated}")
        return job_services.job_mark_succeeded(
            job, message=f"refreshed {job.app.name} from {image}: updated {updated}",
            result={**_lookup_result(image, metadata, suggestion), "app": job.app_id,
                    "updated": outcome["updated"], "kept": outcome["kept"], "applied": applied},
        )


HANDLERS = {JobKind.IMAGE_LOOKUP: _lookup, JobKind.APP_IMPORT: _import, JobKind.METADATA_REFRESH: _refresh}
