"""The local stack of one checkout: install, start, inspect, empty and stop its services."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from cli.local import processes
from cli.local.errors import StackError
from cli.local.faults import FaultControl
from cli.local.net import http_status, port_free, port_open
from cli.local.provision import provision, topic_paths
from cli.local.reset import reset
from cli.local.services import ServiceSpec, stack_services
from cli.local.state import StateDir
from cli.local.status import ServiceStatus, StackStatus
from cli.local.toolchain import Toolchain
from cli.local.wiring import wire_pipeline
from shared.errors import ConfigError
from shared.gcp.clients import queue_path
from shared.settings import Settings

UpAction = Literal["started", "reused"]
DownAction = Literal["stopped", "stale", "not running"]
PORT_RELEASE_SECONDS = 10.0


def find_root(start: Path | None = None) -> Path:
    """The nearest folder from `start` (default: the working directory) up with a pyproject.toml."""
    here = (start or Path.cwd()).resolve()
    return next(
        (folder for folder in (here, *here.parents) if (folder / "pyproject.toml").is_file()), here
    )


def _silent(_message: str) -> None:
    """Discard a progress message."""


class LocalStack:
    """The emulators (and later the app servers) of one checkout, on 127.0.0.1.

    Virtualenvs live in `ROOT/.tools/`, PID files and logs in `state_dir`
    (default: the LOCAL_STACK_DIR setting under ROOT, `.local-stack/`). Ports
    and resource names come from settings. `progress` receives one line per
    step for people watching. Raises `ConfigError` outside local mode.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        root: Path | None = None,
        state_dir: Path | None = None,
        toolchain: Toolchain | None = None,
        progress: Callable[[str], None] = _silent,
    ) -> None:
        if not settings.is_local:
            raise ConfigError("PIPELINE_MODE", "must be 'local' for the local stack")
        self.settings = settings
        self.root = root or find_root()
        self.tools_dir = self.root / ".tools"
        self.state = StateDir(state_dir or self.root / settings.local_stack_dir)
        self.toolchain = toolchain or Toolchain()
        self.services: tuple[ServiceSpec, ...] = stack_services(
            settings, self.toolchain, self.tools_dir
        )
        self._progress = progress

    def install(self) -> list[str]:
        """Create the emulator virtualenvs that are missing or outdated; return their names.

        Idempotent. Raises `StackError` naming the install log on failure.
        """
        installed = []
        for venv in dict.fromkeys(spec.venv for spec in self.services if spec.venv):
            if not venv.is_installed(self.tools_dir):
                self._progress(
                    f"installing {', '.join(venv.requirements)} into {venv.path(self.tools_dir)}"
                )
                venv.install(self.tools_dir, self.state.log_path(f"install-{venv.name}"))
                installed.append(venv.name)
        return installed

    def up(self) -> dict[str, UpAction]:
        """Start what is not running, wait until all is healthy, provision the resources.

        Idempotent: healthy services of an earlier `up` are reused; what a crashed
        one left running is ended first (see `processes.leftovers`). On failure
        stops what this call started and raises `StackError` naming the service
        and its log.
        """
        self.toolchain.check()
        with self.state.locked():
            self.install()
            for spec in self.services:
                if not self._is_running(spec):
                    self._stop(spec)  # crashed: end what it left holding ports, forget its PID
            self._check_ports_free([s for s in self.services if not self._is_running(s)])
            actions: dict[str, UpAction] = {}
            started: list[ServiceSpec] = []
            try:
                for after_provisioning in (False, True):
                    stage = [s for s in self.services if s.after_provisioning == after_provisioning]
                    for spec in stage:
                        actions[spec.name] = self._start(spec, started)
                    for spec in stage:
                        self._wait_healthy(spec, announce=actions[spec.name] == "started")
                    if not after_provisioning:
                        provision(self.settings)
                        self._progress("resources provisioned")
                wire_pipeline(self.settings)
                self._progress("Firestore trigger registered, push subscription ready")
            except BaseException:
                for spec in reversed(started):
                    self._stop(spec)
                raise
            return actions

    def down(self) -> dict[str, DownAction]:
        """Stop every service this stack started (by PID file) and wait until its ports are free.

        Each service's process group ends with it; of a crashed service, what it
        left running. Idempotent; a stale PID file (nothing of it left, or the PID
        reused) is removed without signalling anything. Raises `StackError` if a
        port stays busy.
        """
        with self.state.locked():
            return {spec.name: self._stop(spec) for spec in reversed(self.services)}

    def stop_service(self, name: str) -> DownAction:
        """Stop one service (e.g. to simulate an outage); the next `up` starts it again."""
        with self.state.locked():
            return self._stop(self._spec(name))

    def kill_service(self, name: str) -> None:
        """SIGKILL the service's main process only, as a crash would; the next `up` restarts it.

        Returns once that process died. Raises `StackError` when it is not running.
        """
        record = self.state.read(self._spec(name).name)
        if record is None:
            raise StackError(f"{name} is not running")
        processes.kill(record)

    def status(self) -> StackStatus:
        """Each service's process and health, and the names of the provisioned resources."""
        settings = self.settings
        topic, dead_letter_topic = topic_paths(settings)
        return StackStatus(
            project=settings.project,
            state_dir=str(self.state.path),
            services=tuple(self._service_status(spec) for spec in self.services),
            resources={
                "topic": topic,
                "dead_letter_topic": dead_letter_topic,
                "dataset": f"{settings.project}.{settings.bq_dataset}",
                "table": settings.table_id,
                "view": settings.latest_view_id,
                "queue": queue_path(settings),
            },
            emulator_env={
                "PIPELINE_MODE": "local",
                "GOOGLE_CLOUD_PROJECT": settings.project,
                "FIRESTORE_EMULATOR_HOST": settings.firestore_emulator_host or "",
                "PUBSUB_EMULATOR_HOST": settings.pubsub_emulator_host or "",
                "BIGQUERY_EMULATOR_HOST": settings.bigquery_emulator_host or "",
                "CLOUD_TASKS_EMULATOR_HOST": settings.tasks_emulator_host or "",
            },
        )

    def reset(self) -> None:
        """Empty Firestore, the table, the topics' backlogs and the queue; nothing restarts.

        Raises `StackError` if an emulator is not running or refuses.
        """
        for spec in self.services:
            if not spec.after_provisioning and not self._service_status(spec).healthy:
                raise StackError(f"{spec.name} is not running: run `session-sync local up` first")
        reset(self.settings)
        proxy = next(spec for spec in self.services if spec.name == "fault-proxy")
        if self._service_status(proxy).healthy:
            FaultControl(self.settings).clear()

    def _spec(self, name: str) -> ServiceSpec:
        for spec in self.services:
            if spec.name == name:
                return spec
        raise StackError(f"the local stack has no service named {name!r}")

    def _is_running(self, spec: ServiceSpec) -> bool:
        record = self.state.read(spec.name)
        return record is not None and processes.is_running(record)

    @staticmethod
    def _check_ports_free(specs: list[ServiceSpec]) -> None:
        for spec in specs:
            busy = [port for port in spec.ports.values() if not port_free(port)]
            if busy:
                raise StackError(
                    f"{spec.name}: port {', '.join(map(str, busy))} on 127.0.0.1 is in use by a"
                    " program this stack did not start; stop it or change the LOCAL_*_PORT"
                    " settings"
                )

    def _start(self, spec: ServiceSpec, started: list[ServiceSpec]) -> UpAction:
        record = self.state.read(spec.name)
        if record is not None and processes.is_running(record):
            self._progress(f"{spec.name}: already running (pid {record.pid}), reused")
            return "reused"
        self.state.remove(spec.name)
        self._check_ports_free([spec])
        record = processes.spawn(
            spec.command,
            env=spec.env,
            cwd=self.state.path,
            log_path=self.state.log_path(spec.name),
        )
        self.state.write(spec.name, record)
        started.append(spec)
        self._progress(
            f"{spec.name}: started (pid {record.pid}), log {self.state.log_path(spec.name)}"
        )
        return "started"

    def _wait_healthy(self, spec: ServiceSpec, *, announce: bool) -> None:
        record = self.state.read(spec.name)
        log = self.state.log_path(spec.name)
        begin = time.monotonic()
        while not self._healthy(spec):
            if record is None or not processes.is_running(record):
                code = None if record is None else processes.exit_code(record)
                raise StackError(f"{spec.name} exited during start-up (exit {code}); see {log}")
            if time.monotonic() - begin > spec.startup_seconds:
                raise StackError(
                    f"{spec.name} not healthy after {spec.startup_seconds:.0f} s"
                    f" (ports {', '.join(spec.endpoints().values())}); see {log}"
                )
            time.sleep(0.1)
        if announce:
            self._progress(f"{spec.name}: healthy after {time.monotonic() - begin:.1f} s")

    def _stop(self, spec: ServiceSpec) -> DownAction:
        record = self.state.read(spec.name)
        if record is None:
            return "not running"
        crashed = not processes.is_running(record)
        if not processes.stop(record):
            self.state.remove(spec.name)
            self._progress(f"{spec.name}: stale PID file removed (pid {record.pid} no longer runs)")
            return "stale"
        deadline = time.monotonic() + PORT_RELEASE_SECONDS
        while busy := [port for port in spec.ports.values() if not port_free(port)]:
            if time.monotonic() > deadline:
                raise StackError(
                    f"{spec.name}: port {busy} still in use after stopping pid {record.pid}"
                )
            time.sleep(0.1)
        self.state.remove(spec.name)
        if crashed:
            self._progress(f"{spec.name}: ended what crashed pid {record.pid} left running")
        else:
            self._progress(f"{spec.name}: stopped (pid {record.pid})")
        return "stopped"

    def _service_status(self, spec: ServiceSpec) -> ServiceStatus:
        record = self.state.read(spec.name)
        running = record is not None and processes.is_running(record)
        return ServiceStatus(
            name=spec.name,
            pid=record.pid if record is not None and running else None,
            running=running,
            healthy=running and self._healthy(spec),
            endpoints=spec.endpoints(),
            log=str(self.state.log_path(spec.name)),
            rss_mib=round(processes.rss_kib(record) / 1024, 1)
            if record is not None and running
            else None,
        )

    @staticmethod
    def _healthy(spec: ServiceSpec) -> bool:
        if not all(port_open(port) for port in spec.ports.values()):
            return False
        if spec.health_url is None:
            return True
        status = http_status("GET", spec.health_url)
        return status is not None and 200 <= status < 300
