"""The product's routes plus /bench/bare-insert: the smallest DRF endpoint doing one insert."""
from django.db import connection
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView


class BareInsert(APIView):
    """Parses a JSON body and inserts one row: the reference every write endpoint is compared with."""

    def post(self, request):
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_bare (payload) VALUES (%s) RETURNING id", [str(dict(request.data))])
            (row_id,) = cursor.fetchone()
        return Response({"id": row_id}, status=201)


urlpatterns = [
    path("bench/bare-insert", BareInsert.as_view()),
    path("", include("config.urls")),
]
