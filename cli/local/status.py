"""What `local status` reports: each service's process and health, and the stack's resources."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ServiceStatus:
    """One service: its recorded process, whether it answers, where, and its memory."""

    name: str
    pid: int | None
    running: bool
    healthy: bool
    endpoints: dict[str, str]
    log: str
    rss_mib: float | None


@dataclass(frozen=True)
class StackStatus:
    """The whole stack: services, the project's resources and the emulator hosts to export."""

    project: str
    state_dir: str
    services: tuple[ServiceStatus, ...]
    resources: dict[str, str]
    emulator_env: dict[str, str]

    @property
    def healthy(self) -> bool:
        """True when every service runs and answers its health check."""
        return all(service.healthy for service in self.services)

    def service(self, name: str) -> ServiceStatus:
        """The status of the service called `name`; raises KeyError if there is none."""
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, with the overall `healthy` flag."""
        return {"healthy": self.healthy, **asdict(self)}
