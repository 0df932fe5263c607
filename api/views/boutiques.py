"""Boutiques routes: import a descriptor as an app (201), run a configuration once on the scheduler (202 job)."""
import json

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import parsers, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from api.parsers import JSONParser
from api.permissions import AppCreateAccess, DeployAccess, ensure
from api.responses import accepted, requester
from api.serializers.catalog import AppSerializer
from api.serializers.jobs import JobSerializer
from api.throttling import JobCreateThrottle
from api.views.jobs import IDEMPOTENCY_HEADER, _problem
from shared.errors import ValidationFailed
from shared.permissions import can_deploy
from shared.selectors.jobs import config_for_job
from shared.services.boutiques_import import app_import_boutiques
from shared.services.run_jobs import run_create

FILE_FIELDS = ("file", "descriptor")


def _descriptor_from(request):
    """The descriptor: the JSON body itself, or an uploaded file (multipart field `file` or `descriptor`)."""
    if request.content_type and request.content_type.startswith("multipart/"):
        upload = next((request.FILES[name] for name in FILE_FIELDS if name in request.FILES), None)
        if upload is None:
            raise ValidationFailed("Upload the descriptor as the multipart field `file`.",
                                   errors={"file": ["This field is required."]})
        try:
            return json.loads(upload.read().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValidationFailed("The uploaded descriptor is not JSON.", errors={"file": [str(exc)]}) from None
    return request.data


class AppImportBoutiquesView(APIView):
    # JSON everywhere else; this route also takes a file upload.
    parser_classes = [JSONParser, parsers.MultiPartParser]
    permission_classes = [AppCreateAccess]

    @extend_schema(
        summary="Import a Boutiques descriptor as an app",
        description="Body: the descriptor as JSON, or a multipart upload (field `file`). Validated with Boutiques' "
                    "schema and checks; its container image, environment variables, inputs and suggested "
                    "resources become an app with one configuration holding the inputs' default values. "
                    "422 lists every validation error (`validation_errors`, and `errors` by path).",
        request={"application/json": {"type": "object"},
                 "multipart/form-data": {"type": "object", "properties": {"file": {"type": "string",
                                                                                    "format": "binary"}}}},
        responses={201: AppSerializer, 400: _problem("Not JSON, or no file."),
                   409: _problem("An app with this name exists."), 422: _problem("Invalid descriptor.")},
        tags=["boutiques"],
    )
    def post(self, request):
        app = app_import_boutiques(_descriptor_from(request), owner=requester(request))
        body = dict(AppSerializer(app).data)
        body["boutiques_descriptor"] = app.boutiques_descriptor
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": f"/api/v1/apps/{app.pk}/"})


class RunRequestSerializer(serializers.Serializer):
    inputs = serializers.DictField(required=False, default=dict)
    callback_url = serializers.CharField(required=False, allow_blank=True, max_length=2048)


class RunConfigView(APIView):
    permission_classes = [DeployAccess]
    throttle_classes = [JobCreateThrottle]

    @extend_schema(
        summary="Run a configuration once on the scheduler",
        description="A `run` job: the app's image runs once on Metronome with the given input values (checked "
                    "against the app's Boutiques descriptor; defaults from the descriptor and the configuration). "
                    "The succeeded or failed job's `result` holds the run's status, tasks and exit status.",
        request=RunRequestSerializer, parameters=[IDEMPOTENCY_HEADER],
        responses={202: JobSerializer, 400: _problem("Invalid inputs (named `inputs.<id>`)."),
                   404: _problem("Unknown configuration."), 409: _problem("The app has no image."),
                   422: _problem("Idempotency key reused with another body.")},
        tags=["jobs"],
    )
    def post(self, request, pk):
        config = config_for_job(pk)
        ensure(request, can_deploy(request.user, config.app), DeployAccess.message)
        data = request.data if int(request.META.get("CONTENT_LENGTH") or 0) else {}
        body = RunRequestSerializer(data=data)
        body.is_valid(raise_exception=True)
        user = requester(request)
        job, created = run_create(config=config, inputs=body.validated_data.get("inputs") or {},
                                  idempotency_key=request.headers.get("Idempotency-Key"),
                                  callback_url=body.validated_data.get("callback_url", ""), requested_by=user,
                                  scope=str(getattr(user, "pk", "") or ""))
        return accepted(job, created)
