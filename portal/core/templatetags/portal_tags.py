import json

from django import template

register = template.Library()


@register.filter
def json_pretty(value) -> str:
    """Readable JSON; the template engine still escapes it."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def json_text_pretty(value) -> str:
    """A JSON document kept as text (e.g. a response body), indented when it parses; as it is otherwise."""
    try:
        return json.dumps(json.loads(value), indent=2, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)
