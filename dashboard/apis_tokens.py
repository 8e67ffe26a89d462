"""API: a user's own personal API tokens (list, create, revoke)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hybridqc.api_schema import DetailSerializer
from hybridqc.roles import has_role

from .models import ApiToken
from .serializers import ApiTokenCreatedSerializer, ApiTokenCreateSerializer, ApiTokenSerializer
from .tokens import ApiTokenInvalid, api_token_create, api_token_revoke, api_tokens_of


class HasRole(BasePermission):
    message = "Only reviewers, release leads and admins have API tokens."

    def has_permission(self, request: Request, view: Any) -> bool:
        return has_role(request.user)


class NotByToken(BasePermission):
    """A new token must come from a signed-in person: a leaked token must not mint its successors."""

    message = "Create tokens from a signed-in session (the token page or this API), not with a token."

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method != "POST" or not isinstance(request.auth, ApiToken)


class TokenListApi(APIView):
    """GET: your tokens (never the tokens themselves). POST: a new token, shown once in the answer."""

    permission_classes = [IsAuthenticated, HasRole, NotByToken]

    @property
    def throttle_scope(self) -> str | None:
        # Only minting has its own (low) rate; listing counts against the user's rate alone.
        return "token-create" if self.request.method == "POST" else None

    @extend_schema(responses=ApiTokenSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(ApiTokenSerializer(api_tokens_of(request.user), many=True).data)

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedSerializer, 400: DetailSerializer})
    def post(self, request: Request) -> Response:
        body = ApiTokenCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            new = api_token_create(user=request.user, **body.validated_data)
        except ApiTokenInvalid as exc:
            return Response({exc.field: [exc.message]}, status=status.HTTP_400_BAD_REQUEST)
        data = {**ApiTokenSerializer(new.token).data, "token": new.secret}
        return Response(data, status=status.HTTP_201_CREATED)


class TokenDetailApi(APIView):
    """DELETE: revoke one of your tokens (it stops working at once; the record stays)."""

    permission_classes = [IsAuthenticated, HasRole]

    @extend_schema(responses={200: ApiTokenSerializer, 404: OpenApiResponse(DetailSerializer)})
    def delete(self, request: Request, token_id: int) -> Response:
        token = api_token_revoke(user=request.user, token_id=token_id)
        if token is None:
            return Response({"detail": "No such token."}, status=status.HTTP_404_NOT_FOUND)
        return Response(ApiTokenSerializer(token).data)
