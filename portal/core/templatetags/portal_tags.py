import datetime as dt
import json

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.translation import gettext as _

from portal.audit.words import event_words as words

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
    parts = (
        [_("%(n)d d") % {"n": days}] * bool(days)
        + [_("%(n)d h") % {"n": hours}] * bool(hours)
        + [_("%(n)d min") % {"n": minutes}] * bool(minutes)
    )
    return " ".join(parts[:2]) or _("under a minute")


@register.filter
def event_words(event) -> str:
    """An audit event as a requester reads it on a timeline."""

    return words(event)


@register.filter
def when(value, fmt: str = "Y-m-d H:i"):
    """A time in the viewer's time zone, named, with the UTC time on hover and in the machine-readable attribute."""
    if isinstance(value, str):  # SCP's ISO 8601 text (untrusted: what does not parse is shown as it came)
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            return value
        value = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    if not isinstance(value, dt.datetime):
        return value or ""
    utc = value.astimezone(dt.UTC)
    local = timezone.localtime(value)
    return format_html(
        '<time datetime="{}" title="{} UTC">{} {}</time>',
        utc.isoformat(),
        utc.strftime("%Y-%m-%d %H:%M:%S"),
        date_format(local, fmt),
        local.tzname(),
    )


@register.filter
def bar_length(fraction, full) -> str:
    """A chart bar's length in SVG units: `fraction` (0..1) of `full`, at least a hairline when not zero."""
    try:
        value = float(fraction) * float(full)
    except (TypeError, ValueError):
        return "0"
    return f"{max(value, 0.5) if value > 0 else 0:.2f}"


@register.filter
def bar_top(fraction, full) -> str:
    """Where a bar of `bar_length` starts, so that bars stand on the baseline."""
    return f"{float(full) + 1 - float(bar_length(fraction, full)):.2f}"
