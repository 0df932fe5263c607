"""Serializers of the catalog: apps with their Docker container and Marathon configurations, both ways.

The shape is the ancestor's (`{id, name, description, command, vcs_url, docker_container: {id, image, ports},
marathon_configs: [{id, cpu, memory, args, env_vars}]}`) plus newer members. Every rule comes from
shared.catalog_rules, so the API and the services judge a value the same way.

`cpu` is rendered as a JSON number, never a string: an integer when it is whole (`1`), else a decimal number
with at most three places (`0.25`). It is accepted as a JSON number or a decimal string.
"""
from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from shared import catalog_rules as rules
from shared.presenters import present_app, present_config, present_container
from shared.selectors.catalog import APP_ORDERINGS


class DeploymentSummarySerializer(serializers.Serializer):
    """Documents shared.presenters.deployment_summary."""

    id = serializers.IntegerField()
    marathon_app_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["deploying", "running", "unhealthy", "stopped", "failed"])
    version = serializers.CharField()
    instances = serializers.IntegerField()
    tasks_running = serializers.IntegerField()
    tasks_healthy = serializers.IntegerField()
    url = serializers.CharField()
    last_failure = serializers.CharField()


class RuleField(serializers.Field):
    """A field whose value is judged by one catalog rule; the rule's message becomes the field's error."""

    rule = None

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        try:
            return type(self).rule(data)
        except rules.RuleError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value):
        return value


@extend_schema_field({"type": "string", "pattern": r"^[a-z0-9]([a-z0-9-]{0,48}[a-z0-9])?$", "maxLength": 50,
                      "example": "nginx-test"})
class NameField(RuleField):
    rule = staticmethod(rules.clean_name)


class OptionalTextField(RuleField):
    """A string where null means empty."""

    rule = staticmethod(lambda value: rules.clean_optional_text(value, "value"))

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def validate_empty_values(self, data):
        if data is None:
            return True, ""
        return super().validate_empty_values(data)


extend_schema_field({"type": "string", "nullable": True})(OptionalTextField)


@extend_schema_field({"type": "string", "maxLength": 2048, "nullable": True,  # "" and scp-like git@host:x are no URIs
                      "description": "A URL (http, https, git, ssh) or an empty string.",
                      "example": "https://github.com/nginxinc/docker-nginx"})
class VcsUrlField(OptionalTextField):
    rule = staticmethod(rules.clean_vcs_url)


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class LabelsField(RuleField):
    rule = staticmethod(rules.clean_labels)


@extend_schema_field({"type": "string", "maxLength": 512, "example": "nginx:1.27",
                      "description": "A Docker image reference: [host[:port]/]path[:tag][@sha256:digest]."})
class ImageField(RuleField):
    rule = staticmethod(rules.clean_image)


@extend_schema_field({"type": "string", "enum": list(rules.CONTAINER_TYPES), "default": "docker"})
class ContainerTypeField(RuleField):
    rule = staticmethod(rules.clean_container_type)


@extend_schema_field({"type": "array", "uniqueItems": True,
                      "items": {"type": "integer", "minimum": rules.PORT_MIN, "maximum": rules.PORT_MAX}})
class PortsField(RuleField):
    rule = staticmethod(rules.clean_ports)


@extend_schema_field({"type": "number", "exclusiveMinimum": True, "minimum": 0, "maximum": 64,
                      "multipleOf": 0.001, "example": 0.5,
                      "description": "CPU shares, a decimal > 0 and <= 64 (also accepted as a decimal string)."})
class CpuField(RuleField):
    rule = staticmethod(rules.clean_cpu)

    def to_representation(self, value):
        value = Decimal(value)
        return int(value) if value == value.to_integral_value() else float(value)


@extend_schema_field({"type": "integer", "minimum": rules.MEMORY_MIN, "maximum": rules.MEMORY_MAX,
                      "description": "Memory in MiB.", "example": 64})
class MemoryField(RuleField):
    rule = staticmethod(rules.clean_memory)


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": rules.INSTANCES_MAX, "default": 1})
class InstancesField(RuleField):
    rule = staticmethod(rules.clean_instances)


@extend_schema_field({"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}],
                      "description": "A list of strings, or one string split the way a shell does."})
class ArgsField(RuleField):
    rule = staticmethod(rules.clean_args)


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"},
                      "description": "Variable names (letters, digits, '_', not starting with a digit) to strings."})
class EnvVarsField(RuleField):
    rule = staticmethod(rules.clean_env_vars)


@extend_schema_field({"type": "string", "default": "/", "maxLength": 255})
class HealthCheckPathField(RuleField):
    rule = staticmethod(rules.clean_health_check_path)


@extend_schema_field(OpenApiTypes.INT)
class ConfigIdField(serializers.Field):
    """The id of an existing configuration inside an app body; whether it belongs to the app is the service's."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError("A configuration id must be an integer.")
        return data

    def to_representation(self, value):
        return value


class RuleSerializer(serializers.Serializer):
    """A serializer whose declared fields document the shape (OpenAPI) while one pass of the catalog rules
    validates input and a plain function renders output: DRF's per-field machinery costs several times more
    per request, and the rules are the same ones the services apply."""

    presenter = None

    def clean(self, data):
        """Returns (cleaned, errors); every subclass says which catalog rules apply to its body."""
        raise TypeError(f"{type(self).__name__} must define clean()")

    def run_validation(self, data=serializers.empty):
        if data is serializers.empty or data is None:
            raise serializers.ValidationError({"body": ["A JSON object is required, not null."]})
        cleaned, errors = self.clean(data)
        if errors:
            raise serializers.ValidationError(errors)
        return cleaned

    def to_representation(self, instance):
        return type(self).presenter(instance)


class DockerContainerSerializer(RuleSerializer):
    presenter = staticmethod(present_container)

    def clean(self, data):
        errors = {}
        if not isinstance(data, dict):
            return {}, {"body": [f"Expected a JSON object, got {type(data).__name__}."]}
        return rules.clean_container_body(data, "", errors, required=not self.partial) or {}, errors

    id = serializers.IntegerField(read_only=True)
    type = ContainerTypeField(required=False)
    image = ImageField()
    ports = PortsField(required=False)


class MarathonConfigSerializer(RuleSerializer):
    presenter = staticmethod(present_config)

    def clean(self, data):
        errors = {}
        if not isinstance(data, dict):
            return {}, {"body": [f"Expected a JSON object, got {type(data).__name__}."]}
        cleaned = rules.clean_config_body(data, "", errors, required=not self.partial)
        cleaned.pop("id", None)
        return cleaned, errors

    id = serializers.IntegerField(read_only=True)
    app = serializers.IntegerField(source="app_id", read_only=True)
    cpu = CpuField()
    memory = MemoryField()
    instances = InstancesField(required=False)
    args = ArgsField(required=False)
    env_vars = EnvVarsField(required=False)
    health_check_path = HealthCheckPathField(required=False)
    deployment = DeploymentSummarySerializer(read_only=True, allow_null=True,
                                             help_text="What runs on Marathon for this configuration, if anything.")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class AppMarathonConfigSerializer(MarathonConfigSerializer):
    """A configuration inside an app body: with an `id` it updates that configuration, without one it is new."""

    id = ConfigIdField(required=False, allow_null=True)


class AppSerializer(RuleSerializer):
    presenter = staticmethod(present_app)

    def clean(self, data):
        return rules.clean_app_body(data, partial=self.partial)

    id = serializers.IntegerField(read_only=True)
    name = NameField()
    description = OptionalTextField()
    command = OptionalTextField(help_text="The command to run; alone (no container) or in the container.")
    vcs_url = VcsUrlField()
    labels = LabelsField(required=False)
    docker_container = DockerContainerSerializer(required=False, allow_null=True)
    marathon_configs = AppMarathonConfigSerializer(many=True, required=False)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class AppListQuerySerializer(serializers.Serializer):
    """The list's query parameters (documentation only: the selector checks them)."""

    search = serializers.CharField(required=False, help_text="Words found in the name or the description.")
    image = serializers.CharField(
        required=False, help_text="Apps whose image is this reference, or any tag or digest of this repository."
    )
    ordering = serializers.ChoiceField(required=False, choices=list(APP_ORDERINGS), help_text="Sort key.")
