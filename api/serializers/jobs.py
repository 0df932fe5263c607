"""Serializers of job requests, jobs, their events and deployments."""
from functools import lru_cache

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from shared import url_guard
from shared.models import Deployment, Job, JobEvent
from shared.presenters import deployment_data, job_data

MAX_INSTANCES = 1000


class CallbackMixin(serializers.Serializer):
    callback_url = serializers.URLField(required=False, allow_blank=True, max_length=2048,
                                        help_text="Called back when the job starts and ends (signed webhooks; "
                                                  "https, public address).")

    def validate_callback_url(self, value):
        # The same server-side request forgery guard as webhook subscriptions (checked again at delivery).
        if value:
            try:
                url_guard.check_url_from_settings(value)
            except url_guard.UnsafeURL as exc:
                raise serializers.ValidationError(exc.message, code=exc.code) from None
        return value


class DeployRequestSerializer(CallbackMixin):
    instances = serializers.IntegerField(required=False, min_value=0, max_value=MAX_INSTANCES, allow_null=True)
    force = serializers.BooleanField(required=False, default=False)


class StopRequestSerializer(CallbackMixin):
    force = serializers.BooleanField(required=False, default=False)


class RestartRequestSerializer(CallbackMixin):
    force = serializers.BooleanField(required=False, default=False)


class ScaleRequestSerializer(CallbackMixin):
    instances = serializers.IntegerField(min_value=0, max_value=MAX_INSTANCES)
    force = serializers.BooleanField(required=False, default=False)


@lru_cache(maxsize=None)
def _plain_rules(serializer_class):
    """(name, type, required, allow_null, min, max, default) per declared field, or None when the serializer has a
    field the plain reading below does not cover. A callback URL has type None: its presence needs the serializer."""
    rules = []
    for name, field in serializer_class._declared_fields.items():
        if isinstance(field, serializers.BooleanField):
            rules.append((name, bool, field.required, field.allow_null, None, None, field.default))
        elif isinstance(field, serializers.IntegerField):
            rules.append((name, int, field.required, field.allow_null, field.min_value, field.max_value,
                          field.default))
        elif name == "callback_url":
            rules.append((name, None, field.required, False, None, None, field.default))
        else:
            return None
    return tuple(rules)


def _read_plain(serializer_class, data):
    """What the serializer would validate, when the body holds only plain in-range integers and true booleans;
    None for anything else."""
    rules = _plain_rules(serializer_class)
    if rules is None or type(data) is not dict:
        return None
    validated = {}
    for name, kind, required, allow_null, low, high, default in rules:
        if name not in data:
            if required:
                return None
            if default is not empty:
                validated[name] = default
            continue
        value = data[name]
        if kind is None:
            return None
        if value is None:
            if not allow_null:
                return None
        elif type(value) is not kind or (low is not None and value < low) or (high is not None and value > high):
            return None
        validated[name] = value
    return validated


def job_body_validated(serializer_class, data):
    """The validated body of a job request (`serializer_class` is one of the request serializers above).

    A body of plain in-range integers and true booleans, as clients send it, is read directly: on this hot path
    the serializer's per-request copies of its fields cost more than the checks. Anything else (strings to
    coerce, numbers out of range, a callback URL, a missing required field) goes through the serializer, for
    its coercions and its error messages; both give the same result for a body the direct reading accepts.
    """
    validated = _read_plain(serializer_class, data)
    if validated is None:
        body = serializer_class(data=data)
        body.is_valid(raise_exception=True)
        validated = dict(body.validated_data)
    return validated


class JobErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    retryable = serializers.BooleanField()
    details = serializers.JSONField(allow_null=True)


class JobSerializer(serializers.ModelSerializer):
    app = serializers.IntegerField(source="app_id", allow_null=True, read_only=True)
    config = serializers.IntegerField(source="config_ref", allow_null=True, read_only=True)
    blocked_by = serializers.UUIDField(source="blocked_by_id", allow_null=True, read_only=True)
    requested_by = serializers.IntegerField(source="requested_by_id", allow_null=True, read_only=True,
                                            help_text="The id of the user who asked for the job.")
    waiting_for = serializers.SerializerMethodField()
    last_error = JobErrorSerializer(allow_null=True, read_only=True)
    links = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id", "kind", "status", "app", "app_name", "config", "params", "result", "attempts", "max_attempts",
            "last_error", "marathon_app_id", "deployment_id", "marathon_version", "public_url", "blocked_by",
            "waiting_for", "cancel_requested", "callback_url", "requested_by", "created_at", "updated_at", "started_at",
            "finished_at", "next_attempt_at", "deadline", "links",
        ]
        read_only_fields = fields

    def to_representation(self, job):
        # The declared fields document the shape; the shared presenter produces it (fast, and the same
        # shape that webhooks send).
        return job_data(job)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_waiting_for(self, job):  # pragma: no cover - documented only; see shared.presenters
        return None

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_links(self, job):  # pragma: no cover - documented only; see shared.presenters
        return {}


class JobEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobEvent
        fields = ["id", "at", "type", "from_status", "to_status", "message", "data"]
        read_only_fields = fields


class DeploymentSerializer(serializers.ModelSerializer):
    config = serializers.IntegerField(source="config_id", allow_null=True, read_only=True)
    app = serializers.IntegerField(source="app_id", allow_null=True, read_only=True)
    app_name = serializers.SerializerMethodField()
    url = serializers.CharField(source="public_url", read_only=True)
    endpoints = serializers.SerializerMethodField()

    class Meta:
        model = Deployment
        fields = [
            "id", "app", "app_name", "config", "marathon_app_id", "status", "version", "deployment_id",
            "instances", "tasks_staged", "tasks_running", "tasks_healthy", "tasks_unhealthy", "tasks",
            "endpoints", "last_failure", "url", "last_event_at", "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, deployment):
        return deployment_data(deployment)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_app_name(self, deployment):  # pragma: no cover - documented only; see shared.presenters
        return None

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_endpoints(self, deployment):  # pragma: no cover - documented only; see shared.presenters
        return []
