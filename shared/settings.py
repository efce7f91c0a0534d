"""Pipeline settings: the only reader of `os.environ`, read once at start-up.

Every name the code reads is listed in `ENV_NAMES`, which the README and the
terraform checks use as the reference. A missing or unsafe setting raises
`ConfigError` naming it, so a misconfigured process stops before serving.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from shared.errors import ConfigError

Mode = Literal["local", "cloud"]

LOCAL_PROJECT = "session-sync-local"
LOCAL_SALT = "local-development-salt-never-use-in-cloud-0123456789"
# The local stack compresses time: Cloud Tasks' retry schedule and the redrive's run
# 100 times faster, so the whole retry budget passes in about 5 s.
LOCAL_TIME_SCALE = 0.01
MIN_SALT_BYTES = 32

# Default local ports: one contiguous block, each overridable by its setting.
LOCAL_PORTS: dict[str, int] = {
    "LOCAL_FIRESTORE_PORT": 8510,
    "LOCAL_PUBSUB_PORT": 8511,
    "LOCAL_BIGQUERY_PORT": 8512,
    "LOCAL_BIGQUERY_GRPC_PORT": 8513,
    "LOCAL_TASKS_PORT": 8514,
    "LOCAL_FAULT_PROXY_PORT": 8515,
    "LOCAL_SCHEDULER_PORT": 8516,
    "LOCAL_TRIGGER_PORT": 8520,
    "LOCAL_SYNC_WORKER_PORT": 8521,
    "LOCAL_RETRY_WORKER_PORT": 8522,
}

ENV_NAMES: tuple[str, ...] = (
    "PIPELINE_MODE",
    "GOOGLE_CLOUD_PROJECT",
    "PSEUDONYMIZATION_SALT",
    "BQ_DATASET",
    "BQ_TABLE",
    "BQ_LATEST_VIEW",
    "BQ_LOCATION",
    "BQ_TIMEOUT_SECONDS",
    "PUBSUB_TOPIC",
    "PUBSUB_DEAD_LETTER_TOPIC",
    "PUBSUB_PUSH_SUBSCRIPTION",
    "PUBSUB_PULL_SUBSCRIPTION",
    "TASKS_LOCATION",
    "TASKS_QUEUE",
    "RETRY_WORKER_URL",
    "TASKS_SERVICE_ACCOUNT",
    "SYNC_MAX_RETRIES",
    "TASKS_DISPATCH_DEADLINE_SECONDS",
    "REDRIVE_RETENTION_HOURS",
    "RECONCILE_WINDOW_HOURS",
    "LOCAL_TIME_SCALE",
    "PUSH_AUDIENCE",
    "PUSH_SERVICE_ACCOUNT",
    "TASKS_AUDIENCE",
    "AUTH_DISABLED",
    "BATCH_WINDOW_MS",
    "BATCH_MAX_ROWS",
    "LOG_LEVEL",
    "FUNCTION_TARGET",
    "LOCAL_STACK_DIR",
    "FIRESTORE_EMULATOR_HOST",
    "PUBSUB_EMULATOR_HOST",
    "BIGQUERY_EMULATOR_HOST",
    "CLOUD_TASKS_EMULATOR_HOST",
    *LOCAL_PORTS,
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    """Every setting of every component; components use what they need."""

    mode: Mode
    project: str
    # Never printed (repr hides it); used exactly as given, whitespace included.
    salt: str | None = field(repr=False)
    bq_dataset: str
    bq_table: str
    bq_latest_view: str
    bq_location: str
    bq_timeout_seconds: float
    topic: str
    dead_letter_topic: str
    push_subscription: str
    pull_subscription: str
    tasks_location: str
    tasks_queue: str
    retry_worker_url: str
    tasks_service_account: str
    max_retries: int
    dispatch_deadline_seconds: int
    redrive_retention_hours: float
    reconcile_window_hours: float
    time_scale: float
    push_audience: str
    push_service_account: str
    tasks_audience: str
    auth_disabled: bool
    batch_window_ms: int
    batch_max_rows: int
    log_level: str
    function_target: str | None
    firestore_emulator_host: str | None
    pubsub_emulator_host: str | None
    bigquery_emulator_host: str | None
    tasks_emulator_host: str | None
    local_ports: Mapping[str, int]
    local_stack_dir: str

    @property
    def is_local(self) -> bool:
        return self.mode == "local"

    def require_project(self) -> str:
        """Return the project id; raise `ConfigError` when it is not set."""
        if not self.project:
            raise ConfigError("GOOGLE_CLOUD_PROJECT", "is required outside local mode")
        return self.project

    @property
    def table_id(self) -> str:
        """Fully qualified `project.dataset.table` of the raw sessions table."""
        return f"{self.require_project()}.{self.bq_dataset}.{self.bq_table}"

    @property
    def latest_view_id(self) -> str:
        return f"{self.require_project()}.{self.bq_dataset}.{self.bq_latest_view}"

    def require_salt(self) -> str:
        """Return the pseudonymization salt; raise `ConfigError` if unsafe.

        Local mode falls back to a fixed development salt; cloud mode needs a
        salt of at least 32 bytes.
        """
        if self.salt is None or self.salt == "":
            if self.is_local:
                return LOCAL_SALT
            raise ConfigError("PSEUDONYMIZATION_SALT", "is required outside local mode")
        if not self.is_local and len(self.salt.encode("utf-8")) < MIN_SALT_BYTES:
            raise ConfigError(
                "PSEUDONYMIZATION_SALT",
                f"must be at least {MIN_SALT_BYTES} bytes outside local mode",
            )
        return self.salt


def load_settings(
    environ: Mapping[str, str] | None = None, *, default_mode: Mode = "cloud"
) -> Settings:
    """Read and validate every setting; raise `ConfigError` naming a bad one.

    `default_mode` applies when PIPELINE_MODE is unset (the local-stack commands
    default to local; everything else fails safe to cloud).
    """
    env = os.environ if environ is None else environ
    reader = _Reader(env)
    mode_text = reader.text("PIPELINE_MODE", default_mode)
    if mode_text not in ("local", "cloud"):
        raise ConfigError("PIPELINE_MODE", f"must be 'local' or 'cloud', not {mode_text!r}")
    mode: Mode = "local" if mode_text == "local" else "cloud"
    local = mode == "local"
    ports = {name: reader.port(name, default) for name, default in LOCAL_PORTS.items()}

    def emulator(name: str, port_name: str) -> str | None:
        default = f"127.0.0.1:{ports[port_name]}" if local else None
        return reader.optional(name) or default

    project = reader.optional("GOOGLE_CLOUD_PROJECT") or (LOCAL_PROJECT if local else "")
    retry_worker_url = reader.text(
        "RETRY_WORKER_URL",
        f"http://127.0.0.1:{ports['LOCAL_RETRY_WORKER_PORT']}/" if local else "",
    )
    auth_disabled = reader.flag("AUTH_DISABLED", False)
    if auth_disabled and not local:
        raise ConfigError("AUTH_DISABLED", "may only be set with PIPELINE_MODE=local")
    time_scale = reader.number(
        "LOCAL_TIME_SCALE", LOCAL_TIME_SCALE if local else 1.0, low=1e-6, high=1
    )
    if time_scale != 1 and not local:
        raise ConfigError("LOCAL_TIME_SCALE", "may only be set with PIPELINE_MODE=local")
    settings = Settings(
        mode=mode,
        project=project,
        salt=reader.raw("PSEUDONYMIZATION_SALT"),
        bq_dataset=reader.text("BQ_DATASET", "analytics"),
        bq_table=reader.text("BQ_TABLE", "sessions"),
        bq_latest_view=reader.text("BQ_LATEST_VIEW", "sessions_latest"),
        bq_location=reader.text("BQ_LOCATION", "asia-northeast1"),
        bq_timeout_seconds=reader.number("BQ_TIMEOUT_SECONDS", 10.0, low=0.1, high=600),
        topic=reader.text("PUBSUB_TOPIC", "session-completed"),
        dead_letter_topic=reader.text("PUBSUB_DEAD_LETTER_TOPIC", "session-completed-dead-letter"),
        push_subscription=reader.text("PUBSUB_PUSH_SUBSCRIPTION", "session-completed-push"),
        pull_subscription=reader.text("PUBSUB_PULL_SUBSCRIPTION", "session-completed-pull"),
        tasks_location=reader.text("TASKS_LOCATION", "asia-northeast1"),
        tasks_queue=reader.text("TASKS_QUEUE", "bigquery-sync-queue"),
        retry_worker_url=retry_worker_url,
        tasks_service_account=reader.text("TASKS_SERVICE_ACCOUNT", ""),
        max_retries=int(reader.number("SYNC_MAX_RETRIES", 10, low=0, high=100, integer=True)),
        # Cloud Tasks accepts 15 s .. 30 min for HTTP targets; terraform passes the retry
        # worker's timeout, so a task is never cut off before the worker would answer.
        dispatch_deadline_seconds=int(
            reader.number("TASKS_DISPATCH_DEADLINE_SECONDS", 120, low=15, high=1800, integer=True)
        ),
        # Pub/Sub keeps messages at most 7 days: after that an episode cannot be redriven
        # from a seek either, so it becomes final.
        redrive_retention_hours=reader.number("REDRIVE_RETENTION_HOURS", 168, low=1, high=168),
        reconcile_window_hours=reader.number("RECONCILE_WINDOW_HOURS", 72, low=1, high=24 * 90),
        time_scale=time_scale,
        push_audience=reader.text("PUSH_AUDIENCE", ""),
        push_service_account=reader.text("PUSH_SERVICE_ACCOUNT", ""),
        tasks_audience=reader.text("TASKS_AUDIENCE", retry_worker_url),
        auth_disabled=auth_disabled,
        batch_window_ms=int(reader.number("BATCH_WINDOW_MS", 20, low=0, high=10_000, integer=True)),
        batch_max_rows=int(reader.number("BATCH_MAX_ROWS", 500, low=1, high=10_000, integer=True)),
        log_level=reader.text("LOG_LEVEL", "INFO").upper(),
        function_target=reader.optional("FUNCTION_TARGET"),
        firestore_emulator_host=emulator("FIRESTORE_EMULATOR_HOST", "LOCAL_FIRESTORE_PORT"),
        pubsub_emulator_host=emulator("PUBSUB_EMULATOR_HOST", "LOCAL_PUBSUB_PORT"),
        bigquery_emulator_host=emulator("BIGQUERY_EMULATOR_HOST", "LOCAL_BIGQUERY_PORT"),
        tasks_emulator_host=emulator("CLOUD_TASKS_EMULATOR_HOST", "LOCAL_TASKS_PORT"),
        local_ports=ports,
        local_stack_dir=reader.text("LOCAL_STACK_DIR", ".local-stack"),
    )
    return settings


def log_level(default: str, environ: Mapping[str, str] | None = None) -> str:
    """LOG_LEVEL alone, for processes whose other settings depend on the command they run."""
    env = os.environ if environ is None else environ
    return _Reader(env).text("LOG_LEVEL", default).upper()


class _Reader:
    """Typed access to an environment mapping that names the setting on error."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def optional(self, name: str) -> str | None:
        value = self._env.get(name)
        return value.strip() if value is not None and value.strip() else None

    def raw(self, name: str) -> str | None:
        """The value exactly as given (a secret must hash as other tools hash it);
        None when unset, empty or all whitespace."""
        value = self._env.get(name)
        return value if value is not None and value.strip() else None

    def text(self, name: str, default: str) -> str:
        return self.optional(name) or default

    def flag(self, name: str, default: bool) -> bool:
        value = self._env.get(name)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(name, f"must be true or false, not {value!r}")

    def number(
        self, name: str, default: float, *, low: float, high: float, integer: bool = False
    ) -> float:
        value = self.optional(name)
        if value is None:
            return default
        try:
            number = int(value) if integer else float(value)
        except ValueError:
            kind = "a whole number" if integer else "a number"
            raise ConfigError(name, f"must be {kind}, not {value!r}") from None
        if not low <= number <= high:
            raise ConfigError(name, f"must be between {low:g} and {high:g}, not {value}")
        return number

    def port(self, name: str, default: int) -> int:
        return int(self.number(name, default, low=1, high=65535, integer=True))
