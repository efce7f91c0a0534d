"""The stack's services, one declaration each: how to start one and how to tell it is ready."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cli.local.net import HOST
from cli.local.scheduler import CONTROL_PATH as SCHEDULER_PATH
from cli.local.toolchain import Toolchain
from cli.local.venvs import BIGQUERY_EMULATOR, TASKS_EMULATOR, ToolVenv
from shared.healing_policy import HealingPolicy
from shared.settings import Settings

_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parents[1]
FIRESTORE_MAIN = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"
# A capped heap and C1-only compilation: about 100 MiB less RSS and a faster start on 2 cores.
JVM_OPTIONS = ("-Xmx256m", "-XX:TieredStopAtLevel=1")
# The Firestore emulator keeps every document version it served; a few runs of 10,000
# sessions (the benchmarks) exhaust 256 MiB, so it may grow to 1 GiB (used only when needed).
FIRESTORE_JVM_OPTIONS = ("-Xmx1g", "-XX:TieredStopAtLevel=1")


@dataclass(frozen=True)
class ServiceSpec:
    """One process of the stack.

    `ports` maps a label to a port on 127.0.0.1: each must be free before the
    start and accept connections once the service is up. `health_url`, when
    set, must also answer 2xx. Services with `after_provisioning` start only
    once the emulators run and the cloud resources exist (the app servers).
    """

    name: str
    command: tuple[str, ...]
    ports: Mapping[str, int]
    health_url: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    venv: ToolVenv | None = None
    after_provisioning: bool = False
    startup_seconds: float = 90.0

    def endpoints(self) -> dict[str, str]:
        """`host:port` of every labelled port."""
        return {label: f"{HOST}:{port}" for label, port in self.ports.items()}


def stack_services(
    settings: Settings, tools: Toolchain, tools_dir: Path
) -> tuple[ServiceSpec, ...]:
    """Every service of the local stack, in start order: emulators, then the pipeline."""
    return (*emulator_services(settings, tools, tools_dir), *pipeline_services(settings))


def emulator_services(
    settings: Settings, tools: Toolchain, tools_dir: Path
) -> tuple[ServiceSpec, ...]:
    """The four emulators."""
    ports = settings.local_ports
    firestore = ports["LOCAL_FIRESTORE_PORT"]
    pubsub = ports["LOCAL_PUBSUB_PORT"]
    bigquery = ports["LOCAL_BIGQUERY_PORT"]
    tasks = ports["LOCAL_TASKS_PORT"]
    return (
        ServiceSpec(
            name="firestore",
            command=(
                tools.java,
                *FIRESTORE_JVM_OPTIONS,
                "-Duser.language=en",
                "-cp",
                str(tools.firestore_jar),
                FIRESTORE_MAIN,
                "start",
                f"--host={HOST}",
                f"--port={firestore}",
                # Where it delivers Firestore CloudEvents (the trigger server).
                f"--functions_emulator={HOST}:{ports['LOCAL_TRIGGER_PORT']}",
            ),
            ports={"http": firestore},
            health_url=f"http://{HOST}:{firestore}/",
        ),
        ServiceSpec(
            name="pubsub",
            command=(str(tools.pubsub_emulator), f"--host={HOST}", f"--port={pubsub}"),
            ports={"grpc": pubsub},
            health_url=f"http://{HOST}:{pubsub}/",
            env={"JAVA_HOME": str(tools.java_home()), "JAVA_OPTS": " ".join(JVM_OPTIONS)},
        ),
        ServiceSpec(
            name="bigquery",
            command=(
                str(BIGQUERY_EMULATOR.python(tools_dir)),
                str(_HERE / "bq_launcher.py"),
                "start",
                f"--rest-host={HOST}",
                f"--rest-port={bigquery}",
                f"--grpc-host={HOST}",
                f"--grpc-port={ports['LOCAL_BIGQUERY_GRPC_PORT']}",
                f"--project={settings.project}",
            ),
            ports={"rest": bigquery, "grpc": ports["LOCAL_BIGQUERY_GRPC_PORT"]},
            health_url=f"http://{HOST}:{bigquery}/healthz",
            env={"BQEMU_ENABLE_FORMAT_EXTENSIONS": "false"},
            venv=BIGQUERY_EMULATOR,
        ),
        ServiceSpec(
            name="tasks",
            command=(
                str(TASKS_EMULATOR.python(tools_dir)),
                str(_HERE / "tasks_launcher.py"),
                "start",
                f"--port={tasks}",
            ),
            ports={"grpc": tasks},
            # The launcher's dispatcher keeps the queue's schedule, compressed by this scale.
            env={"LOCAL_TIME_SCALE": repr(settings.time_scale)},
            venv=TASKS_EMULATOR,
        ),
    )


# The functions' local servers: the same entry points as on GCP, served by functions-framework.
FUNCTIONS = (
    ("trigger", "on_session_written", "LOCAL_TRIGGER_PORT"),
    ("sync-worker", "sync_worker_push", "LOCAL_SYNC_WORKER_PORT"),
    ("retry-worker", "retry_worker_task", "LOCAL_RETRY_WORKER_PORT"),
)
# Request threads per server, so concurrent pushes can be coalesced into micro-batches.
SERVER_THREADS = "64"


def pipeline_services(settings: Settings) -> tuple[ServiceSpec, ...]:
    """The fault-injection proxy in front of BigQuery, then the three function servers.

    The servers run in local mode without token checks (the emulators send no
    OIDC tokens) and reach BigQuery through the proxy.
    """
    ports = settings.local_ports
    proxy_port = ports["LOCAL_FAULT_PROXY_PORT"]
    proxy = ServiceSpec(
        name="fault-proxy",
        command=(
            sys.executable,
            "-m",
            "cli.local.fault_proxy",
            f"--port={proxy_port}",
            f"--upstream={HOST}:{ports['LOCAL_BIGQUERY_PORT']}",
        ),
        ports={"http": proxy_port},
        health_url=f"http://{HOST}:{proxy_port}/__faults__",
        after_provisioning=True,
    )
    servers = tuple(
        ServiceSpec(
            name=name,
            command=(
                sys.executable,
                "-m",
                "functions_framework",
                f"--source={ROOT / 'main.py'}",
                f"--target={target}",
                f"--host={HOST}",
                f"--port={ports[port_setting]}",
            ),
            ports={"http": ports[port_setting]},
            env={
                "PIPELINE_MODE": "local",
                "AUTH_DISABLED": "true",
                "FUNCTION_TARGET": target,
                "GOOGLE_CLOUD_PROJECT": settings.project,
                "BIGQUERY_EMULATOR_HOST": f"{HOST}:{proxy_port}",
                # Explicit, so a stack on other ports never reaches another stack's services.
                "FIRESTORE_EMULATOR_HOST": settings.firestore_emulator_host or "",
                "PUBSUB_EMULATOR_HOST": settings.pubsub_emulator_host or "",
                "CLOUD_TASKS_EMULATOR_HOST": settings.tasks_emulator_host or "",
                "RETRY_WORKER_URL": settings.retry_worker_url,
                "LOCAL_TIME_SCALE": repr(settings.time_scale),
                "THREADS": SERVER_THREADS,
                "PYTHONPATH": str(ROOT),
            },
            after_provisioning=True,
            startup_seconds=60.0,
        )
        for name, target, port_setting in FUNCTIONS
    )
    return (proxy, *servers, scheduler_service(settings))


# Cloud Scheduler's jobs in terraform call these paths of the retry worker; locally their
# intervals are compressed like every other duration, but never below these floors.
MIN_REDRIVE_SECONDS = 0.5
MIN_RECONCILE_SECONDS = 10.0


def scheduler_service(settings: Settings) -> ServiceSpec:
    """The local Cloud Scheduler: the redrive and reconcile jobs against the retry worker."""
    ports = settings.local_ports
    port = ports["LOCAL_SCHEDULER_PORT"]
    retry_worker = f"http://{HOST}:{ports['LOCAL_RETRY_WORKER_PORT']}"
    policy = HealingPolicy(time_scale=settings.time_scale)
    redrive = max(policy.scaled(policy.redrive_every_seconds).total_seconds(), MIN_REDRIVE_SECONDS)
    reconcile = max(
        policy.scaled(policy.reconcile_every_seconds).total_seconds(), MIN_RECONCILE_SECONDS
    )
    return ServiceSpec(
        name="scheduler",
        command=(
            sys.executable,
            "-m",
            "cli.local.scheduler",
            f"--port={port}",
            *("--job", "redrive", f"{retry_worker}/redrive", f"{redrive:g}"),
            *("--job", "reconcile", f"{retry_worker}/reconcile", f"{reconcile:g}"),
        ),
        ports={"http": port},
        health_url=f"http://{HOST}:{port}{SCHEDULER_PATH}",
        after_provisioning=True,
    )
