"""Image metadata routes: look an image up, import it as an app, refresh an app from its image (all 202 jobs)."""
from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView

from api.serializers.images import AppImportRequestSerializer, ImageLookupRequestSerializer
from api.serializers.jobs import JobSerializer
from api.permissions import AppCreateAccess, DeployAccess, ensure
from api.responses import accepted, requester as _requester
from api.throttling import JobCreateThrottle
from api.views.jobs import IDEMPOTENCY_HEADER, _problem
from shared.permissions import can_edit_app
from shared.selectors.catalog import app_get
from shared.services.image_metadata import app_import_create, image_lookup_create, metadata_refresh_create

_FAILURES = ("A failed job's last_error.code is image_not_found, auth_required, registry_unavailable (after "
             "retries with back-off), digest_mismatch, too_large or invalid_manifest.")


def _identity(request):
    requester = _requester(request)
    return {
        "idempotency_key": request.headers.get("Idempotency-Key"),
        "requested_by": requester,
        "scope": str(getattr(requester, "pk", "") or ""),
    }


def _body(request, serializer_class):
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ImageLookupView(APIView):
    permission_classes = [AppCreateAccess]
    throttle_classes = [JobCreateThrottle]

    @extend_schema(
        summary="Look an image's metadata up",
        description="Reads the image's labels, annotations, exposed ports, command and environment from its "
                    "registry (or the MicroBadger-compatible source) in an `image_lookup` job. The succeeded "
                    "job's `result` holds `metadata` and the suggested catalog fields (`suggestion`). "
                    + _FAILURES,
        request=ImageLookupRequestSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={202: JobSerializer, 400: _problem("Malformed image reference (names `image`)."),
                   415: _problem("Not JSON."), 422: _problem("Idempotency key reused with another body.")},
        tags=["images"],
    )
    def post(self, request):
        data = _body(request, ImageLookupRequestSerializer)
        job, created = image_lookup_create(image=data["image"], **_identity(request))
        return accepted(job, created)


class AppImportView(APIView):
    permission_classes = [AppCreateAccess]
    throttle_classes = [JobCreateThrottle]

    @extend_schema(
        summary="Create an app from an image's metadata",
        description="An `app_import` job reads the image's metadata and creates the app: container with the "
                    "exposed TCP ports, description, vcs_url and command from its labels, and one default "
                    "configuration (memory from the memory hint). The name is the request's, else the image's "
                    "title or repository name; a name in use fails the job with `duplicate_name`. " + _FAILURES,
        request=AppImportRequestSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={202: JobSerializer, 400: _problem("Malformed image reference or name."),
                   415: _problem("Not JSON."), 422: _problem("Idempotency key reused with another body.")},
        tags=["images"],
    )
    def post(self, request):
        data = _body(request, AppImportRequestSerializer)
        job, created = app_import_create(image=data["image"], name=data.get("name"), **_identity(request))
        return accepted(job, created)


class AppRefreshMetadataView(APIView):
    permission_classes = [DeployAccess]
    throttle_classes = [JobCreateThrottle]

    @extend_schema(
        summary="Refresh an app from its image's metadata",
        description="A `metadata_refresh` job reads the app's image again and rewrites only the fields that "
                    "still come from its labels (`fields_from_labels`): a field a person edited is left alone, "
                    "and the app is never renamed. " + _FAILURES,
        request=None,
        parameters=[IDEMPOTENCY_HEADER],
        responses={202: JobSerializer, 404: _problem("Unknown app."),
                   409: _problem("The app has no container image."),
                   422: _problem("Idempotency key reused with another body.")},
        tags=["images"],
    )
    def post(self, request, ref):
        app = app_get(ref)
        ensure(request, can_edit_app(request.user, app), "Refreshing this app needs the right to edit it.")
        job, created = metadata_refresh_create(app, **_identity(request))
        return accepted(job, created)
