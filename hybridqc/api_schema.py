"""Shapes every API shares, so the OpenAPI schema names each once."""

from rest_framework import serializers


class DetailSerializer(serializers.Serializer):
    """An error or refusal: what went wrong, in words a person can act on."""

    detail = serializers.CharField()
