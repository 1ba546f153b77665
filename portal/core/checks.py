"""System checks: refuse an SCP API version that SCP would refuse, and warn about one that is not CURRENT."""

import datetime as dt

from django.conf import settings
from django.core import checks

from portal.scp import versions

from .version_watch import version_problems_safe


@checks.register(checks.Tags.compatibility)
def check_scp_api_versions(app_configs=None, today: dt.date | None = None, **kwargs):
    today = today or dt.datetime.now(dt.UTC).date()
    problems = []
    for service, variable in (
        ("virtualserver", "SCP_VIRTUALSERVER_API_VERSION"),
        ("vpc", "SCP_VPC_API_VERSION"),
    ):
        version = getattr(settings.CONFIG, variable.lower())
        try:
            verdict = versions.evaluate(service, version, today=today)
        except versions.VersionRefused as exc:
            problems.append(checks.Error(f"{variable}={version}: {exc}", id="portal.E001"))
            continue
        if verdict.warning:
            problems.append(checks.Warning(f"{variable}={version}: {verdict.warning}", id="portal.W001"))
    return problems


@checks.register(checks.Tags.compatibility)
def check_scp_version_watch(app_configs=None, **kwargs):
    """What the scheduler last read from SCP's version lists: a deadline ahead or passed for a pinned version."""

    return [
        checks.Warning(watch.message, id="portal.W002" if watch.level == "warning" else "portal.W003")
        for watch in version_problems_safe()
    ]
