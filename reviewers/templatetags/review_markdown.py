from django import template
from django.utils.safestring import SafeString, mark_safe

from reviewers.rendering import markdown_safe

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    """Untrusted Markdown to sanitized HTML (see reviewers.rendering)."""
    return mark_safe(markdown_safe(text))  # noqa: S308 - sanitized by nh3 in markdown_safe
