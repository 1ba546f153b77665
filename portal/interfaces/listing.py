"""One page of the servers a user's teams own, read from SCP, which pages by marker and knows nothing of teams.

Each ownership rule becomes a source that SCP can filter (a VPC id, the literal part of a name pattern, the
listed server ids), read side by side and merged in SCP's own order (newest first). The page's marker is the
position in every source, so paging resumes exactly; with one source it is SCP's own marker.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from portal.scp import schemas
from portal.scp.client import ScpClient, ServerPage
from portal.teams.scope import GLOB_CHARS, ServerScope

from .validation import gather

READ_LIMIT = 5000  # servers read for one page at most; past that the page ends early, with "next"
MAX_LISTED_IDS = 100  # explicit server ids fetched one by one; more fall back to reading the whole list
NOT_STARTED, EXHAUSTED, SEPARATOR = "_", ".", "~"


def _key(server: schemas.Server) -> tuple[str, str]:
    return (server.created_at or "", server.id)  # SCP's order is created_at descending, then id


@dataclass
class _Source:
    fetch: Callable[[str | None, int], tuple[list[schemas.Server], bool]]  # (servers after cursor, exhausted)
    cursor: str | None = None
    exhausted: bool = False
    raw: list[schemas.Server] = field(default_factory=list)  # read this page, in SCP's order
    kept: list[schemas.Server] = field(default_factory=list)  # of those, the ones the user may see

    @property
    def position(self) -> str | None:
        return self.raw[-1].id if self.raw else self.cursor


def _scp_source(client: ScpClient, filters: dict) -> _Source:
    def fetch(cursor, limit):
        page = client.list_servers(marker=cursor, limit=limit, **filters)
        return page.servers, page.next_marker is None

    return _Source(fetch)


def _listed_source(client: ScpClient, server_ids: list[str]) -> _Source:
    found: list[schemas.Server] = []

    def fetch(cursor, limit):
        if not found and server_ids:
            results = gather(client, {sid: functools.partial(client.get_server, sid) for sid in server_ids})
            found.extend(sorted((r for r in results.values() if isinstance(r, schemas.Server)), key=_key, reverse=True))
        start = next((i + 1 for i, s in enumerate(found) if s.id == cursor), 0) if cursor else 0
        return found[start : start + limit], start + limit >= len(found)

    return _Source(fetch)


def _sources(client: ScpClient, scope: ServerScope, *, name: str, state: str) -> list[_Source]:
    rules = scope.combined
    common = {"state": state or None}
    literals = [max(GLOB_CHARS.split(p), key=len) for p in rules.patterns]
    if "" in literals or len(rules.server_ids) > MAX_LISTED_IDS:
        return [_scp_source(client, {**common, "name": name or None})]  # a rule SCP cannot narrow: read it all
    sources = [_scp_source(client, {**common, "vpc_id": v, "name": name or None}) for v in sorted(rules.vpc_ids)]
    sources += [_scp_source(client, {**common, "name": name or literal}) for literal in sorted(set(literals))]
    if rules.server_ids:
        sources.append(_listed_source(client, sorted(rules.server_ids)))
    return sources


def _restore(sources: list[_Source], marker: str) -> None:
    parts = marker.split(SEPARATOR) if marker else []
    if len(sources) == 1 and len(parts) == 1 and parts[0] not in (NOT_STARTED, EXHAUSTED):
        sources[0].cursor = parts[0]  # one source: SCP's own marker
    elif len(parts) == len(sources):
        for source, part in zip(sources, parts, strict=True):
            source.exhausted = part == EXHAUSTED
            source.cursor = None if part in (NOT_STARTED, EXHAUSTED) else part
    # anything else (the teams' rules changed since the link was made): the first page


def _token(sources: list[_Source]) -> str:
    if len(sources) == 1:
        return sources[0].position or ""
    return SEPARATOR.join(EXHAUSTED if s.exhausted else (s.position or NOT_STARTED) for s in sources)


def scoped_server_page(
    client: ScpClient, scope: ServerScope, *, name: str, state: str, marker: str, page_size: int
) -> ServerPage:
    if scope.combined.empty:
        return ServerPage([], None)
    wanted_name = name.lower()

    def visible(server: schemas.Server) -> bool:
        return scope.owns(server) and wanted_name in server.name.lower() and (not state or server.state == state)

    sources = _sources(client, scope, name=name, state=state)
    _restore(sources, marker)
    read = 0
    per_call = page_size + 1  # one page and one more per source: enough to know the page and whether more follow
    while read < READ_LIMIT:
        hungry = [s for s in sources if not s.exhausted and len(s.kept) <= page_size]
        if not hungry:
            break
        results = gather(
            client, {str(i): functools.partial(s.fetch, s.position, per_call) for i, s in enumerate(hungry)}
        )
        for i, source in enumerate(hungry):
            result = results[str(i)]
            if isinstance(result, Exception):
                raise result
            servers, exhausted = result
            source.raw += servers
            source.kept += [s for s in servers if visible(s)]
            source.exhausted = exhausted or not servers
            read += len(servers)
    merged: dict[str, schemas.Server] = {}
    for source in sources:
        for server in source.kept:
            merged.setdefault(server.id, server)
    ordered = sorted(merged.values(), key=_key, reverse=True)
    # A server is certainly in place when every source still being read has read past it.
    open_ends = [_key(s.raw[-1]) for s in sources if not s.exhausted and s.raw]
    frontier = max(open_ends) if open_ends else None
    certain = [s for s in ordered if frontier is None or _key(s) >= frontier]
    page = certain[:page_size]
    if frontier is None and len(ordered) <= page_size:
        return ServerPage(page, None)
    # Each source continues after the last server it read that sorts at or before the page's end.
    boundary = _key(page[-1]) if len(page) == page_size or frontier is None else frontier
    for source in sources:
        consumed = [s for s in source.raw if _key(s) >= boundary]
        source.exhausted = source.exhausted and len(consumed) == len(source.raw)
        source.raw = consumed
    return ServerPage(page, _token(sources) or None)
