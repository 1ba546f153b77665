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


@register.filter
def duration_words(value) -> str:
    """A timedelta as '3 h 5 min', '4 min' or 'under a minute'."""
    seconds = int(value.total_seconds()) if value else 0
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes)
    return " ".join(parts[:2]) or "under a minute"


@register.filter
def event_words(event) -> str:
    """An audit event as a requester reads it on a timeline."""
    from portal.audit.words import event_words as words

    return words(event)
