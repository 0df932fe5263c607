"""Catalog routes: apps, their Marathon configurations and Docker containers (HTTP in, services/selectors out).

The same views serve /api/v1/... and the ancestor's routes at the root; the ancestor's `/apps` list is the
same view without pagination.
"""
from django.http import HttpResponse
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers.catalog import (
    AppListQuerySerializer,
    AppSerializer,
    DockerContainerSerializer,
    MarathonConfigSerializer,
)
from api.listing_cache import cached_listing, listing_key, store_listing
from api.permissions import CatalogAccess, check_object
from api.responses import force_param, removal_response, requester
from api.serializers.jobs import JobSerializer
from api.serializers.problems import ProblemSerializer
from shared.selectors.catalog import app_get, app_list, config_get, container_get
from shared.services.catalog import (
    app_create,
    app_update,
    container_update,
    marathon_config_create,
    marathon_config_update,
)
from shared.services.removal import app_remove, config_remove


def _problem(description):
    return OpenApiResponse(ProblemSerializer, description=description)


BAD_REQUEST = _problem("Malformed JSON, a body that is not an object, or invalid fields (`errors` names them).")
NOT_FOUND = _problem("No such resource.")
CONFLICT = _problem("Another app has this name (code `duplicate_name`, field `name`).")
TOO_LARGE = _problem("The body is larger than 1 MiB.")
UNSUPPORTED = _problem("The body is not application/json.")
WRITE_ERRORS = {400: BAD_REQUEST, 413: TOO_LARGE, 415: UNSUPPORTED}

APP_REF = OpenApiParameter("ref", str, OpenApiParameter.PATH,
                           description="The app's id (all digits) or its name.")
CONFIG_PK = OpenApiParameter("pk", int, OpenApiParameter.PATH, description="The configuration's id.")
CONTAINER_PK = OpenApiParameter("pk", int, OpenApiParameter.PATH, description="The container's id.")
FORCE = OpenApiParameter("force", bool, OpenApiParameter.QUERY, required=False,
                         description="Stop what is deployed through stop jobs first, then delete.")
REMOVAL_DESCRIPTION = ("Answers 409 (`deployed`) while anything of it runs on Marathon. With `?force=true` it "
                       "creates stop jobs instead (202, `jobs`) and deletes once they succeed.")
DEPLOYED = _problem("Deployed on Marathon (code `deployed`); `deployments` lists what runs.")
REMOVAL_ACCEPTED = OpenApiResponse(
    inline_serializer("RemovalAccepted", {"detail": serializers.CharField(), "jobs": JobSerializer(many=True)}),
    description="Stopping first; deleted once the stop jobs succeed.",
)


@extend_schema_view(
    get=extend_schema(summary="List apps", tags=["catalog"], parameters=[AppListQuerySerializer],
                      responses={200: AppSerializer(many=True), 400: BAD_REQUEST, 404: _problem("No such page.")}),
    post=extend_schema(summary="Create an app with its container and configurations", tags=["catalog"],
                       request=AppSerializer, responses={201: AppSerializer, 409: CONFLICT, **WRITE_ERRORS}),
)
class AppListView(generics.ListCreateAPIView):
    serializer_class = AppSerializer
    permission_classes = [CatalogAccess]

    def get_queryset(self):
        params = self.request.query_params
        return app_list(search=params.get("search"), image=params.get("image"), ordering=params.get("ordering"))

    def list(self, request, *args, **kwargs):
        key = listing_key(request)
        body = None if getattr(request, "listing_cache_missed", False) else cached_listing(key)
        if body is None:
            body = JSONRenderer().render(super().list(request, *args, **kwargs).data)
            store_listing(key, body)
        return HttpResponse(body, content_type="application/json")

    def create(self, request, *args, **kwargs):
        serializer = AppSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        app = app_create(**serializer.validated_data, actor=requester(request))
        location = f"/api/v1/apps/{app.pk}/"
        return Response(AppSerializer(app).data, status=status.HTTP_201_CREATED, headers={"Location": location})


@extend_schema_view(
    get=extend_schema(summary="Get an app", tags=["catalog"], parameters=[APP_REF],
                      responses={200: AppSerializer, 404: NOT_FOUND}),
    put=extend_schema(
        summary="Replace an app's fields", tags=["catalog"], parameters=[APP_REF], request=AppSerializer,
        description="`name` is required. Members left out stay as they are. `docker_container: null` removes the "
                    "container. `marathon_configs`, when sent, is the whole list: items with an `id` are kept and "
                    "updated, items without one are created, the app's other configurations are deleted.",
        responses={200: AppSerializer, 404: NOT_FOUND, 409: CONFLICT, **WRITE_ERRORS},
    ),
    patch=extend_schema(
        summary="Update some of an app's fields", tags=["catalog"], parameters=[APP_REF], request=AppSerializer,
        description="As PUT, with every member optional.",
        responses={200: AppSerializer, 404: NOT_FOUND, 409: CONFLICT, **WRITE_ERRORS},
    ),
    delete=extend_schema(summary="Delete an app with its container and configurations", tags=["catalog"],
                         description=REMOVAL_DESCRIPTION, parameters=[APP_REF, FORCE],
                         responses={204: None, 202: REMOVAL_ACCEPTED, 404: NOT_FOUND, 409: DEPLOYED}),
)
class AppDetailView(APIView):
    permission_classes = [CatalogAccess]

    def get(self, request, ref):
        return Response(AppSerializer(app_get(ref)).data)

    def put(self, request, ref):
        return self._update(request, ref, partial=False)

    def patch(self, request, ref):
        return self._update(request, ref, partial=True)

    def _update(self, request, ref, *, partial):
        app = check_object(request, self, app_get(ref))
        serializer = AppSerializer(app, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        app = app_update(app, data=serializer.validated_data, partial=partial, actor=requester(request))
        return Response(AppSerializer(app).data)

    def delete(self, request, ref):
        jobs = app_remove(check_object(request, self, app_get(ref)), force=force_param(request), requested_by=requester(request))
        return removal_response(jobs)


@extend_schema_view(
    post=extend_schema(summary="Add a configuration to an app", tags=["catalog"], parameters=[APP_REF],
                       request=MarathonConfigSerializer,
                       responses={201: MarathonConfigSerializer, 404: NOT_FOUND, **WRITE_ERRORS}),
)
class AppConfigCreateView(APIView):
    permission_classes = [CatalogAccess]

    def post(self, request, ref):
        app = check_object(request, self, app_get(ref))
        serializer = MarathonConfigSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        config = marathon_config_create(app, data=serializer.validated_data, actor=requester(request))
        location = f"/api/v1/marathon-configs/{config.pk}/"
        return Response(MarathonConfigSerializer(config).data, status=status.HTTP_201_CREATED,
                        headers={"Location": location})


@extend_schema_view(
    get=extend_schema(summary="Get a configuration", tags=["catalog"], parameters=[CONFIG_PK],
                      responses={200: MarathonConfigSerializer, 404: NOT_FOUND}),
    put=extend_schema(summary="Replace a configuration", tags=["catalog"], parameters=[CONFIG_PK],
                      description="`cpu` and `memory` are required; absent optional members take their defaults.",
                      request=MarathonConfigSerializer,
                      responses={200: MarathonConfigSerializer, 404: NOT_FOUND, **WRITE_ERRORS}),
    patch=extend_schema(summary="Update some of a configuration's fields", tags=["catalog"], parameters=[CONFIG_PK],
                        request=MarathonConfigSerializer,
                        responses={200: MarathonConfigSerializer, 404: NOT_FOUND, **WRITE_ERRORS}),
    delete=extend_schema(summary="Delete a configuration", tags=["catalog"], description=REMOVAL_DESCRIPTION,
                         parameters=[CONFIG_PK, FORCE],
                         responses={204: None, 202: REMOVAL_ACCEPTED, 404: NOT_FOUND, 409: DEPLOYED}),
)
class MarathonConfigDetailView(APIView):
    permission_classes = [CatalogAccess]

    def get(self, request, pk):
        return Response(MarathonConfigSerializer(config_get(pk)).data)

    def put(self, request, pk):
        return self._update(request, pk, partial=False)

    def patch(self, request, pk):
        return self._update(request, pk, partial=True)

    def _update(self, request, pk, *, partial):
        config = check_object(request, self, config_get(pk))
        serializer = MarathonConfigSerializer(config, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        config = marathon_config_update(config, data=serializer.validated_data, partial=partial,
                                        actor=requester(request))
        return Response(MarathonConfigSerializer(config).data)

    def delete(self, request, pk):
        jobs = config_remove(check_object(request, self, config_get(pk)), force=force_param(request), requested_by=requester(request))
        return removal_response(jobs)


@extend_schema_view(
    get=extend_schema(summary="Get a container", tags=["catalog"], parameters=[CONTAINER_PK],
                      responses={200: DockerContainerSerializer, 404: NOT_FOUND}),
    put=extend_schema(summary="Replace a container", tags=["catalog"], parameters=[CONTAINER_PK],
                      description="`image` is required; absent `ports` means none.",
                      request=DockerContainerSerializer,
                      responses={200: DockerContainerSerializer, 404: NOT_FOUND, **WRITE_ERRORS}),
    patch=extend_schema(summary="Update some of a container's fields", tags=["catalog"], parameters=[CONTAINER_PK],
                        request=DockerContainerSerializer,
                        responses={200: DockerContainerSerializer, 404: NOT_FOUND, **WRITE_ERRORS}),
)
class ContainerDetailView(APIView):
    permission_classes = [CatalogAccess]

    def get(self, request, pk):
        return Response(DockerContainerSerializer(container_get(pk)).data)

    def put(self, request, pk):
        return self._update(request, pk, partial=False)

    def patch(self, request, pk):
        return self._update(request, pk, partial=True)

    def _update(self, request, pk, *, partial):
        container = check_object(request, self, container_get(pk))
        serializer = DockerContainerSerializer(container, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        container = container_update(container, data=serializer.validated_data, partial=partial,
                                     actor=requester(request))
        return Response(DockerContainerSerializer(container).data)
