"""Which time-zone names a briefing accepts: the canonical IANA names people pick a place by.

``ZoneInfo`` opens any file under the zone folders, so ``posixrules``, ``Factory`` (a zone whose
name is "-00"), ``localtime`` (the host's zone, whatever it is), ``right/UTC`` (leap seconds
counted: clocks 27 s off) and ``posix/Europe/Paris`` all load. Canonical here means what the tz
database lists for choosing a location, ``zone1970.tab`` and ``zone.tab`` (Europe/Paris,
America/New_York, Asia/Kolkata ...), plus ``UTC`` and the fixed offsets the database keeps as zones
of their own (``Etc/UTC``, ``Etc/GMT``, ``Etc/GMT-10`` = UTC+10: POSIX signs). Old spellings kept as links
(``US/Eastern``, ``Asia/Calcutta``) and the legacy rule zones (``EST5EDT``) are refused with the
same message. A name is matched without regard to case and stored as the tz database spells it.
"""

from __future__ import annotations

import importlib.resources
import re
import zoneinfo
from functools import cache
from pathlib import Path

_TABLES = ("zone1970.tab", "zone.tab")
_ALWAYS = ("UTC", "Etc/UTC", "Etc/GMT")
_FIXED_OFFSET = re.compile(r"Etc/GMT[+-](?:1[0-4]|[1-9])")
# Without a table anywhere (a stripped-down system without the tzdata package): the region names
# that zoneinfo lists, which leaves out posixrules, Factory, localtime, right/, posix/ and the
# legacy and country-alias names alike.
_REGION = re.compile(
    r"(?:Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific)/[\w+-]+(?:/[\w+-]+)?"
)


def canonical_timezone(name: str) -> str | None:
    """The tz database's spelling of ``name`` when it is a canonical zone that this system can
    load; None otherwise."""
    return _canonical().get(name.strip().casefold())


@cache
def _canonical() -> dict[str, str]:
    names = set(_listed()) or {n for n in zoneinfo.available_timezones() if _REGION.fullmatch(n)}
    loadable = zoneinfo.available_timezones()
    names.update(_ALWAYS)
    names.update(n for n in loadable if _FIXED_OFFSET.fullmatch(n))
    return {n.casefold(): n for n in names if n in loadable}


def _listed() -> list[str]:
    """The zone names of the first tz database that has the tables: the folders zoneinfo reads
    (``zoneinfo.TZPATH``) in its order, then the tzdata package, zoneinfo's own fallback."""
    for folder in zoneinfo.TZPATH:
        texts = [_read(Path(folder) / table) for table in _TABLES]
        if any(texts):
            return _names(texts)
    try:
        package = importlib.resources.files("tzdata").joinpath("zoneinfo")
        texts = [package.joinpath(table).read_text(encoding="utf-8") for table in _TABLES]
    except (ModuleNotFoundError, OSError):
        return []
    return _names(texts)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _names(texts: list[str]) -> list[str]:
    """The third column (the zone) of each non-comment line of zone.tab-format tables."""
    names = []
    for text in texts:
        for line in text.splitlines():
            fields = line.split("\t")
            if line and not line.startswith("#") and len(fields) >= 3:
                names.append(fields[2].strip())
    return names
