"""Database models: the catalog, jobs with their timeline, deployments, idempotency keys, API tokens, audit."""
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from knox.models import AbstractAuthToken


class App(models.Model):
    """A deployable application of the catalog."""

    name = models.CharField(max_length=50, unique=True)
    description = models.TextField(blank=True, default="")
    command = models.TextField(blank=True, default="")
    vcs_url = models.CharField(max_length=2048, blank=True, default="")
    labels = models.JSONField(default=dict, blank=True)
    image_labels = models.JSONField(default=dict, blank=True)
    fields_from_labels = models.JSONField(default=list, blank=True)
    # The Boutiques descriptor the app was imported from (null: an ordinary web app).
    boutiques_descriptor = models.JSONField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="apps"
    )
    group = models.ForeignKey("auth.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="apps")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self):
        return self.name


class DockerContainer(models.Model):
    """The Docker image an app runs and the ports it listens on."""

    app = models.OneToOneField(App, on_delete=models.CASCADE, related_name="docker_container")
    type = models.CharField(max_length=16, default="docker")
    image = models.CharField(max_length=512)
    ports = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [models.Index(fields=["image"])]

    def __str__(self):
        return self.image


class MarathonConfig(models.Model):
    """One way to run an app on Marathon: resources, instances, arguments and environment."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="marathon_configs")
    cpu = models.DecimalField(max_digits=6, decimal_places=3)
    memory = models.PositiveIntegerField()
    instances = models.PositiveIntegerField(default=1)
    args = models.JSONField(default=list, blank=True)
    env_vars = models.JSONField(default=dict, blank=True)
    health_check_path = models.CharField(max_length=255, default="/")
    # Input values of a Boutiques tool (by input id), the defaults of its one-off runs.
    inputs = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.app_id}/{self.pk}"


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
ACTIVE_STATUSES = frozenset({JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.WAITING})

# Every legal move of a job. Terminal states have no way out; a retry goes from running back to queued.
JOB_TRANSITIONS = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset(
        {JobStatus.QUEUED, JobStatus.WAITING, JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}
    ),
    JobStatus.WAITING: frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.QUEUED}),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


class JobKind(models.TextChoices):
    DEPLOY = "deploy"
    STOP = "stop"
    RESTART = "restart"
    SCALE = "scale"
    IMAGE_LOOKUP = "image_lookup"
    APP_IMPORT = "app_import"
    METADATA_REFRESH = "metadata_refresh"
    RUN = "run"


MARATHON_JOB_KINDS = frozenset({JobKind.DEPLOY, JobKind.STOP, JobKind.RESTART, JobKind.SCALE})


class Job(models.Model):
    """A request to change what runs (or to read an image), carried out asynchronously by a worker."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=32, choices=JobKind.choices)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    app = models.ForeignKey(App, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    config = models.ForeignKey(
        MarathonConfig, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    app_name = models.CharField(max_length=50, blank=True, default="")
    config_ref = models.BigIntegerField(null=True, blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)
    last_error = models.JSONField(null=True, blank=True)
    marathon_app_id = models.CharField(max_length=255, blank=True, default="")
    deployment_id = models.CharField(max_length=64, blank=True, default="")
    marathon_version = models.CharField(max_length=64, blank=True, default="")
    public_url = models.CharField(max_length=2048, blank=True, default="")
    blocked_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cancel_requested = models.BooleanField(default=False)
    callback_url = models.CharField(max_length=2048, blank=True, default="")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["marathon_app_id", "status"]),
            models.Index(fields=["deployment_id"]),
            models.Index(fields=["kind", "status"]),
        ]
        constraints = [
            # The database itself guarantees at most one job at a time acts on a Marathon app.
            models.UniqueConstraint(
                fields=["marathon_app_id"],
                condition=Q(status__in=["running", "waiting"]) & ~Q(marathon_app_id=""),
                name="one_active_job_per_marathon_app",
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.id} ({self.status})"

    @property
    def is_terminal(self):
        return self.status in TERMINAL_STATUSES

    @staticmethod
    def can_transition(source, target):
        return target in JOB_TRANSITIONS.get(source, frozenset())


class JobEvent(models.Model):
    """One entry of a job's timeline: a transition, an attempt, or an answer or event from Marathon."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    type = models.CharField(max_length=64)
    from_status = models.CharField(max_length=16, blank=True, default="")
    to_status = models.CharField(max_length=16, blank=True, default="")
    message = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=255, null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "dedupe_key"], name="job_event_dedupe"),
        ]

    def __str__(self):
        return f"{self.job_id} {self.type}"


class DeploymentStatus(models.TextChoices):
    DEPLOYING = "deploying"
    RUNNING = "running"
    UNHEALTHY = "unhealthy"
    STOPPED = "stopped"
    FAILED = "failed"


class Deployment(models.Model):
    """What runs on Marathon for one configuration, as last seen by the workers and the watcher."""

    config = models.OneToOneField(
        MarathonConfig, null=True, blank=True, on_delete=models.SET_NULL, related_name="deployment"
    )
    app = models.ForeignKey(App, null=True, blank=True, on_delete=models.SET_NULL, related_name="deployments")
    marathon_app_id = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=16, choices=DeploymentStatus.choices, default=DeploymentStatus.DEPLOYING)
    version = models.CharField(max_length=64, blank=True, default="")
    deployment_id = models.CharField(max_length=64, blank=True, default="")
    instances = models.PositiveIntegerField(default=0)
    tasks_staged = models.PositiveIntegerField(default=0)
    tasks_running = models.PositiveIntegerField(default=0)
    tasks_healthy = models.PositiveIntegerField(default=0)
    tasks_unhealthy = models.PositiveIntegerField(default=0)
    tasks = models.JSONField(default=dict, blank=True)
    last_failure = models.TextField(blank=True, default="")
    public_url = models.CharField(max_length=2048, blank=True, default="")
    last_event_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["marathon_app_id"]

    def __str__(self):
        return self.marathon_app_id


class IdempotencyKey(models.Model):
    """A client's Idempotency-Key with the fingerprint of the request body and the job it created."""

    key = models.CharField(max_length=255)
    scope = models.CharField(max_length=255, default="")
    fingerprint = models.CharField(max_length=64)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_key_unique")]


class WebhookSubscription(models.Model):
    """A receiver of events: its URL, the event types it wants, an optional app filter and its signing secret."""

    url = models.CharField(max_length=2048)
    event_types = models.JSONField(default=list)
    # The id of the app whose events are wanted (none: every app). Not a foreign key: the subscription
    # outlives the app, so that it still receives that app's app.deleted event.
    app_ref = models.BigIntegerField(null=True, blank=True)
    description = models.CharField(max_length=255, blank=True, default="")
    active = models.BooleanField(default=True)
    secret = models.CharField(max_length=128)
    disabled_reason = models.TextField(blank=True, default="")
    failing_since = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="webhooks"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["active"])]

    def __str__(self):
        return self.url


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DISABLED = "disabled"


class WebhookDelivery(models.Model):
    """One event sent to one URL; its id is the `webhook-id` header, the same on every attempt.

    `next_attempt_at` is the truth about when it is due: the task claims it by moving it forward (a lease),
    and the periodic sweep enqueues pending deliveries that are due and whose message may be lost.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subscription = models.ForeignKey(
        WebhookSubscription, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    redelivery_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    url = models.CharField(max_length=2048)
    event_type = models.CharField(max_length=64)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=WebhookDeliveryStatus.choices,
                              default=WebhookDeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When a broker message for this delivery was last published to become available (null: none): the
    # sweep leaves a due delivery alone while its message may still arrive.
    enqueued_for = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["subscription", "created_at"]),
        ]

    def __str__(self):
        return f"{self.event_type} {self.id} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery: what the receiver answered, how long it took, or what went wrong."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts_log")
    number = models.PositiveIntegerField()
    at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_body = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.delivery_id} #{self.number}"


class ApiToken(AbstractAuthToken):
    """An API token (django-rest-knox): only its SHA-512 digest is stored; `token_key` is its visible prefix."""

    name = models.CharField(max_length=100, blank=True, default="")
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self):
        return f"{self.token_key} ({self.name or 'unnamed'})"


class AuditEntry(models.Model):
    """Who changed the catalog or asked for a job, written in the same transaction as the change."""

    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    # Kept when the user is deleted, so the log still says who it was.
    actor_name = models.CharField(max_length=150, blank=True, default="")
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=32)
    target_id = models.CharField(max_length=64, blank=True, default="")
    summary = models.TextField(blank=True, default="")
    request_id = models.CharField(max_length=128, blank=True, default="")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["at"]),
            models.Index(fields=["action", "at"]),
            models.Index(fields=["target_type", "target_id"]),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name or '-'} {self.action} {self.target_type}:{self.target_id}"
