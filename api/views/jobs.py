"""Job routes: create deploy/stop/restart/scale jobs (202), read jobs and timelines, cancel, deployments."""
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import DeployAccess, JobAccess, check_object, ensure
from api.responses import accepted, requester
from api.throttling import JobCreateThrottle
from api.serializers.jobs import (
    DeployRequestSerializer,
    DeploymentSerializer,
    JobEventSerializer,
    JobSerializer,
    RestartRequestSerializer,
    ScaleRequestSerializer,
    StopRequestSerializer,
    job_body_validated,
)
from shared.errors import ValidationFailed
from shared.models import JobKind
from shared.permissions import can_deploy
from shared.selectors.jobs import (
    config_for_job,
    deployment_get,
    deployment_list,
    job_events,
    job_get,
    job_list,
    job_wait,
)
from shared.services.jobs import job_create, job_request_cancel

MAX_WAIT_SECONDS = 30
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
    description="The same key with the same body within 24 h returns the same job; another body gives 422.",
)


def _problem(description):
    from api.serializers.problems import ProblemSerializer

    return OpenApiResponse(ProblemSerializer, description=description)


def create_config_job(request, config_pk, kind, body_serializer_class):
    """Validate the body, record the job (idempotently) and return (job, created)."""
    config = config_for_job(config_pk)
    ensure(request, can_deploy(request.user, config.app), DeployAccess.message)
    # A body-less POST (as the ancestor's clients send) needs no content type.
    if not int(request.META.get("CONTENT_LENGTH") or 0):
        data = {}
    else:
        data = request.data if request.data not in (None, "") else {}
    validated = job_body_validated(body_serializer_class, data)
    params = {key: value for key, value in validated.items() if key != "callback_url"}
    return job_create(
        kind=kind,
        config=config,
        params=params,
        idempotency_key=request.headers.get("Idempotency-Key"),
        callback_url=validated.get("callback_url", ""),
        requested_by=requester(request),
        scope=str(getattr(requester(request), "pk", "") or ""),
    ), config


class ConfigJobView(APIView):
    kind = None
    body_serializer_class = None
    permission_classes = [DeployAccess]
    throttle_classes = [JobCreateThrottle]

    def post(self, request, pk):
        (job, created), _ = create_config_job(request, pk, self.kind, self.body_serializer_class)
        return accepted(job, created)


def _config_job_view(kind, body_class, summary):
    view = type(
        f"{kind.title()}ConfigView",
        (ConfigJobView,),
        {"kind": kind, "body_serializer_class": body_class},
    )
    view.post = extend_schema(
        summary=summary,
        request=body_class,
        parameters=[IDEMPOTENCY_HEADER],
        responses={202: JobSerializer, 400: _problem("Invalid body."), 404: _problem("Unknown configuration."),
                   415: _problem("Not JSON."), 422: _problem("Idempotency key reused with another body.")},
        tags=["jobs"],
    )(view.post)
    return view


DeployConfigView = _config_job_view(JobKind.DEPLOY, DeployRequestSerializer, "Deploy a configuration")
StopConfigView = _config_job_view(JobKind.STOP, StopRequestSerializer, "Stop a configuration's deployment")
RestartConfigView = _config_job_view(JobKind.RESTART, RestartRequestSerializer, "Restart a deployment's tasks")
ScaleConfigView = _config_job_view(JobKind.SCALE, ScaleRequestSerializer, "Scale a deployment")


class JobListView(ListAPIView):
    serializer_class = JobSerializer
    permission_classes = [JobAccess]

    def get_queryset(self):
        params = self.request.query_params
        return job_list(status=params.get("status"), kind=params.get("kind"), app=params.get("app"),
                        config=params.get("config"))

    @extend_schema(
        tags=["jobs"],
        parameters=[OpenApiParameter("status", str), OpenApiParameter("kind", str),
                    OpenApiParameter("app", str, description="App id or name"), OpenApiParameter("config", int)],
        responses={200: JobSerializer(many=True), 400: _problem("Invalid filter.")},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class JobDetailView(APIView):
    permission_classes = [JobAccess]

    @extend_schema(
        tags=["jobs"],
        parameters=[OpenApiParameter("wait", int, description="Wait up to N seconds (max 30) for a change.")],
        responses={200: JobSerializer, 400: _problem("Invalid wait."), 404: _problem("Unknown job.")},
    )
    def get(self, request, pk):
        wait = request.query_params.get("wait")
        if wait is None:
            job = job_get(pk)
        else:
            try:
                seconds = float(wait)
            except ValueError:
                raise ValidationFailed("wait must be a number of seconds.", errors={"wait": ["Not a number."]})
            if not 0 <= seconds <= MAX_WAIT_SECONDS:
                raise ValidationFailed(f"wait must be between 0 and {MAX_WAIT_SECONDS}.",
                                       errors={"wait": [f"Must be between 0 and {MAX_WAIT_SECONDS}."]})
            job = job_wait(pk, seconds=seconds)
        return Response(JobSerializer(job).data)


class JobEventsView(ListAPIView):
    serializer_class = JobEventSerializer
    permission_classes = [JobAccess]

    def get_queryset(self):
        return job_events(job_get(self.kwargs["pk"]))

    @extend_schema(tags=["jobs"], responses={200: JobEventSerializer(many=True), 404: _problem("Unknown job.")})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class JobCancelView(APIView):
    permission_classes = [JobAccess]

    @extend_schema(
        tags=["jobs"], request=None,
        responses={200: JobSerializer, 202: JobSerializer, 404: _problem("Unknown job."),
                   409: _problem("The job has already ended.")},
        description="A queued job is cancelled at once (200). A running or waiting job is cancelled after its "
                    "Marathon deployment is rolled back (202; poll the job).",
    )
    def post(self, request, pk):
        job = job_request_cancel(check_object(request, self, job_get(pk)), actor=requester(request))
        code = status.HTTP_200_OK if job.is_terminal else status.HTTP_202_ACCEPTED
        headers = {} if job.is_terminal else {"Location": reverse("job-detail", args=[job.pk]), "Retry-After": "2"}
        return Response(JobSerializer(job).data, status=code, headers=headers)


class DeploymentListView(ListAPIView):
    serializer_class = DeploymentSerializer
    permission_classes = [JobAccess]

    def get_queryset(self):
        params = self.request.query_params
        return deployment_list(status=params.get("status"), app=params.get("app"))

    @extend_schema(tags=["deployments"], parameters=[OpenApiParameter("status", str), OpenApiParameter("app", str)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class DeploymentDetailView(APIView):
    permission_classes = [JobAccess]

    @extend_schema(tags=["deployments"], responses={200: DeploymentSerializer, 404: _problem("Unknown deployment.")})
    def get(self, request, pk):
        return Response(DeploymentSerializer(deployment_get(pk)).data)


class LegacyConfigJobResponseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    cpu = serializers.FloatField()
    memory = serializers.IntegerField()
    args = serializers.ListField(child=serializers.CharField())
    env_vars = serializers.DictField(child=serializers.CharField())
    job = JobSerializer()


def _legacy_view(kind, body_class, summary):
    class LegacyView(APIView):
        permission_classes = [DeployAccess]
        throttle_classes = [JobCreateThrottle]

        @extend_schema(summary=summary, request=body_class, parameters=[IDEMPOTENCY_HEADER], tags=["legacy"],
                       responses={202: LegacyConfigJobResponseSerializer, 404: _problem("Unknown configuration.")})
        def post(self, request, pk):
            (job, created), config = create_config_job(request, pk, kind, body_class)
            body = {
                "id": config.pk,
                "cpu": float(config.cpu),
                "memory": config.memory,
                "args": config.args,
                "env_vars": config.env_vars,
                "instances": config.instances,
                "job": JobSerializer(job).data,
            }
            return accepted(job, created, body)

    LegacyView.__name__ = f"Legacy{kind.title()}View"
    return LegacyView


LegacyDeployView = _legacy_view(JobKind.DEPLOY, DeployRequestSerializer, "Deploy a configuration (ancestor route)")
LegacyDeleteView = _legacy_view(JobKind.STOP, StopRequestSerializer, "Stop a configuration (ancestor route)")

