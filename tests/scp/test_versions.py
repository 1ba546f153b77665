import datetime as dt

import pytest

from portal.scp import versions

D = dt.date.fromisoformat


@pytest.mark.parametrize(
    ("service", "version", "today", "callable_", "warns"),
    [
        ("virtualserver", "1.3", D("2026-11-27"), True, False),
        ("virtualserver", "1.2", D("2026-11-27"), True, True),  # SUPPORTED: callable, with a warning
        ("virtualserver", "1.1", D("2026-05-30"), True, True),  # DEPRECATED before its Not Before date
        ("virtualserver", "1.1", D("2026-05-31"), False, False),  # ... refused on the date itself
        ("virtualserver", "1.1", D("2026-11-27"), False, False),
        ("virtualserver", "1.0", D("2025-12-30"), True, True),
        ("virtualserver", "1.0", D("2025-12-31"), False, False),
        ("virtualserver", "1.0", D("2026-11-27"), False, False),
        ("virtualserver", "1.4", D("2026-11-27"), False, False),  # unknown
        ("virtualserver", "", D("2026-11-27"), False, False),
        ("vpc", "1.2", D("2026-11-27"), True, False),
        ("vpc", "1.3", D("2026-11-27"), False, False),
        ("compute", "1.3", D("2026-11-27"), False, False),
    ],
)
def test_version_policy(service, version, today, callable_, warns):
    if not callable_:
        with pytest.raises(versions.VersionRefused):
            versions.evaluate(service, version, today=today)
        return
    verdict = versions.evaluate(service, version, today=today)
    assert bool(verdict.warning) is warns


def test_refusal_names_the_version_and_its_date():
    with pytest.raises(versions.VersionRefused, match=r"1\.0.*2025-12-31"):
        versions.evaluate("virtualserver", "1.0", today=D("2026-11-27"))


def test_catalogue_matches_the_reference_page():
    states = {v: versions.CATALOGUE[("virtualserver", v)].state for v in ("1.0", "1.1", "1.2", "1.3")}
    assert states == {"1.3": "CURRENT", "1.2": "SUPPORTED", "1.1": "DEPRECATED", "1.0": "DEPRECATED"}
    assert versions.current_version("virtualserver").version == "1.3"
