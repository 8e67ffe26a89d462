"""DRF endpoints of the trends, alarms and judge report; the same selectors as the pages."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .alarms import trends_payload
from .apis import IsLead
from .trends import PERIODS


class TrendsQuerySerializer(serializers.Serializer):
    by = serializers.ChoiceField(choices=PERIODS, default="month")
    domain = serializers.CharField(max_length=200, required=False, allow_blank=True)


class TrendsApi(APIView):
    """Release leads: per period the three numbers with intervals, and the open alarms."""

    permission_classes = [IsAuthenticated, IsLead]

    @extend_schema(parameters=[TrendsQuerySerializer], responses={200: OpenApiTypes.OBJECT},
                   description='{"periods": [...], "alarms": [...]} by month or ISO week.')
    def get(self, request: Request) -> Response:
        query = TrendsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        return Response(trends_payload(by=params["by"], domain_prefix=params.get("domain") or None))
