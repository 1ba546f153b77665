"""Fault injection: deterministic for a given seed and sequence of requests."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class FaultConfig:
    latency_ms: float = 0.0  # added to every API request
    error_rate: float = 0.0  # share of requests answered with one of error_statuses
    error_statuses: list[int] = field(default_factory=lambda: [500, 502, 503])
    error_methods: list[str] = field(default_factory=lambda: ["GET", "POST", "DELETE"])
    conflict_rate: float = 0.0  # share of attaches answered with the transient 409
    drop_after_apply_rate: float = 0.0  # share of attaches applied, then the connection dropped
    late_after_apply_rate: float = 0.0  # share of attaches applied, then answered after late_seconds
    late_seconds: float | list[float] = 5.0  # a list: each late answer waits one of them, chosen at random
    apply_later_rate: float = 0.0  # share of writes answered 504 unapplied, then applied after apply_later_seconds
    apply_later_seconds: float = 5.0
    seed: int = 1

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        config = cls(**data)
        for name in (
            "error_rate",
            "conflict_rate",
            "drop_after_apply_rate",
            "late_after_apply_rate",
            "apply_later_rate",
        ):
            if not 0.0 <= float(getattr(config, name)) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        return config


@dataclass
class AttachFault:
    conflict: bool = False
    drop: bool = False
    late: bool = False
    apply_later: bool = False


class FaultInjector:
    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self.config)

    def error_status(self, method: str) -> int | None:
        with self._lock:
            c = self.config
            if c.error_rate and method in c.error_methods and self._rng.random() < c.error_rate:
                return self._rng.choice(c.error_statuses)
            return None

    def late_delay(self) -> float:
        with self._lock:
            late = self.config.late_seconds
            return float(self._rng.choice(late) if isinstance(late, list) else late)

    def attach_fault(self) -> AttachFault:
        with self._lock:
            c = self.config
            fault = AttachFault()
            if c.conflict_rate and self._rng.random() < c.conflict_rate:
                fault.conflict = True
            elif c.drop_after_apply_rate and self._rng.random() < c.drop_after_apply_rate:
                fault.drop = True
            elif c.late_after_apply_rate and self._rng.random() < c.late_after_apply_rate:
                fault.late = True
            elif c.apply_later_rate and self._rng.random() < c.apply_later_rate:
                fault.apply_later = True
            return fault
