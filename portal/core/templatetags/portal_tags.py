import json

from django import template

register = template.Library()


@register.filter
def json_pretty(value) -> str:
    """Readable JSON; the template engine still escapes it."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
