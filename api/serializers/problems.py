"""The problem-details body (RFC 9457) as an OpenAPI component."""
from rest_framework import serializers


class ProblemSerializer(serializers.Serializer):
    type = serializers.CharField(default="about:blank")
    title = serializers.CharField()
    status = serializers.IntegerField()
    code = serializers.CharField(help_text="A stable machine-readable error code.")
    detail = serializers.CharField()
    instance = serializers.CharField(required=False)
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="Messages by field path, e.g. `marathon_configs[0].memory`.",
    )
