"""Which servers a set of ownership rules covers. Pure: no database, no SCP."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

GLOB_CHARS = re.compile(r"[*?\[\]]")


@dataclass(frozen=True)
class Rules:
    vpc_ids: frozenset[str] = frozenset()
    patterns: tuple[str, ...] = ()  # lower-cased shell patterns
    server_ids: frozenset[str] = frozenset()

    def owns(self, *, server_id: str, name: str, vpc_id: str | None) -> bool:
        if server_id in self.server_ids or (vpc_id and vpc_id in self.vpc_ids):
            return True
        lowered = (name or "").lower()
        return any(fnmatch.fnmatchcase(lowered, p) for p in self.patterns)

    @property
    def empty(self) -> bool:
        return not (self.vpc_ids or self.patterns or self.server_ids)

    def upstream_filter(self) -> dict[str, str]:
        """An SCP list filter that every owned server passes, when one exists (so fewer pages are read)."""
        if self.server_ids:
            return {}
        if len(self.vpc_ids) == 1 and not self.patterns:
            return {"vpc_id": next(iter(self.vpc_ids))}
        if len(self.patterns) == 1 and not self.vpc_ids:
            literal = max(GLOB_CHARS.split(self.patterns[0]), key=len)
            if literal:
                return {"name": literal}
        return {}


@dataclass(frozen=True)
class ServerScope:
    """The servers one user may see: the union of their teams' rules, and each team's own for attribution."""

    teams: tuple[tuple[int, str, Rules], ...] = ()
    combined: Rules = field(default_factory=Rules)

    @classmethod
    def of(cls, teams: list[tuple[int, str, list[tuple[str, str]]]]) -> ServerScope:
        built = []
        for team_id, team_name, rules in teams:
            built.append((team_id, team_name, _rules(rules)))
        combined = _rules([rule for _, _, rules in teams for rule in rules])
        return cls(tuple(built), combined)

    def owns(self, server) -> bool:
        return self.combined.owns(server_id=server.id, name=server.name, vpc_id=server.vpc_id)

    def owning_team_ids(self, server) -> list[int]:
        return [
            team_id
            for team_id, _, rules in self.teams
            if rules.owns(server_id=server.id, name=server.name, vpc_id=server.vpc_id)
        ]


def _rules(rules: list[tuple[str, str]]) -> Rules:
    vpc_ids = frozenset(v for k, v in rules if k == "vpc")
    patterns = tuple(sorted({v.lower() for k, v in rules if k == "name_pattern"}))
    server_ids = frozenset(v for k, v in rules if k == "server")
    return Rules(vpc_ids, patterns, server_ids)
