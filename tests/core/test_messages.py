"""The Korean catalogue is complete: every message in the code and templates has a Korean translation.

makemessages runs on a copy of the sources (the repository is left alone); a message missing from the
catalogue, a fuzzy one, or a broken placeholder fails with the list of what to translate.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent.parent
CATALOGUE = Path("locale/ko/LC_MESSAGES/django.po")


def test_every_message_has_a_korean_translation(tmp_path):
    for part in ("portal", "templates", "locale"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    made = subprocess.run(  # noqa: S603
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "makemessages",
            "-l",
            "ko",
            "--no-obsolete",
            "--no-location",
            "--ignore=portal/simulator/*",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "DEBUG": "true"},
    )
    assert made.returncode == 0, made.stderr[-2000:]
    catalogue = polib.pofile(str(tmp_path / CATALOGUE))
    missing = [e.msgid for e in catalogue.untranslated_entries()]
    fuzzy = [e.msgid for e in catalogue.fuzzy_entries()]
    assert not missing and not fuzzy, (
        f"{len(missing)} message(s) missing from {CATALOGUE}: {missing[:20]}; fuzzy: {fuzzy[:20]}. "
        f"Run: python manage.py makemessages -l ko --no-obsolete --no-location --ignore='.venv/*' "
        f"--ignore='tests/*' --ignore='bench/*' --ignore='portal/simulator/*', then translate them."
    )
    checked = subprocess.run(
        ["msgfmt", "--check-format", "-o", "/dev/null", str(ROOT / CATALOGUE)],  # noqa: S607
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
    # The catalogue in the repository is the one makemessages keeps (nothing stale or left to merge).
    repository = polib.pofile(str(ROOT / CATALOGUE))
    assert {e.msgid for e in catalogue} == {e.msgid for e in repository}


def test_a_message_added_without_its_translation_fails_the_check(tmp_path):
    """The check above can fail: a new message in a template shows up as missing."""
    for part in ("portal", "templates", "locale"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    (tmp_path / "templates" / "new.html").write_text('{% translate "A message nobody translated yet" %}')
    subprocess.run(  # noqa: S603
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "makemessages",
            "-l",
            "ko",
            "--no-obsolete",
            "--no-location",
            "--ignore=portal/simulator/*",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DEBUG": "true"},
    )
    catalogue = polib.pofile(str(tmp_path / CATALOGUE))
    assert [e.msgid for e in catalogue.untranslated_entries()] == ["A message nobody translated yet"]
