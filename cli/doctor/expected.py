"""What the pipeline should look like, from the sources production itself uses.

Nothing here is a second copy: the columns are `shared/schema.json`, the view is
`shared/sql/sessions_latest.sql` rendered as terraform and the local stack render
it, partitioning and clustering are `cli/local/provision.py`'s constants (the
terraform checks hold terraform to the same), the queue is `shared/queue_policy.py`,
the push subscription's numbers are `cli/local/wiring.py` locally and terraform's
inputs in the cloud, and names, URLs, identities and audiences come from
`terraform output -json` when given, else from the settings (and, in the cloud,
from the deployed functions themselves, read by the checks).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cli.doctor.terraform import TerraformOutput, inputs, prefixed_names
from cli.local import provision, wiring
from cli.local.net import HOST
from shared.gcp.pubsub_dead_letters import HOLD_SUFFIX
from shared.queue_policy import QueuePolicy, queue_policy
from shared.schema import schema_text
from shared.settings import Settings

COMPONENTS = ("trigger", "sync_worker", "retry_worker")


@dataclass(frozen=True)
class PushPolicy:
    """The push subscription's delivery numbers, and where they come from."""

    ack_deadline_seconds: int
    min_backoff_seconds: int
    max_backoff_seconds: int
    max_delivery_attempts: int
    retention_seconds: int | None
    source: str


@dataclass(frozen=True)
class Deployment:
    """Names, URLs, identities and audiences of a cloud deployment; None where unknown."""

    region: str | None = None
    function_names: dict[str, str] = field(default_factory=dict)
    function_urls: dict[str, str] = field(default_factory=dict)
    service_accounts: dict[str, str] = field(default_factory=dict)
    push_audience: str | None = None
    tasks_audience: str | None = None
    salt_secret: str | None = None
    salt_secret_version: str | None = None
    scheduler_region: str | None = None
    scheduler_jobs: dict[str, str] = field(default_factory=dict)
    ingress: str | None = None


@dataclass(frozen=True)
class Expected:
    """Everything the checks compare the running pipeline with."""

    settings: Settings
    source: str
    push: PushPolicy
    queue: QueuePolicy
    columns: tuple[dict[str, Any], ...]
    partition_field: str
    clustering_fields: tuple[str, ...]
    view_sql: str
    deployment: Deployment
    terraform: TerraformOutput | None = None

    @property
    def project(self) -> str:
        return self.settings.project

    def topic_path(self, topic: str | None = None) -> str:
        return f"projects/{self.project}/topics/{topic or self.settings.topic}"

    def subscription_path(self, subscription: str) -> str:
        return f"projects/{self.project}/subscriptions/{subscription}"

    @property
    def hold_subscription(self) -> str:
        return self.settings.dead_letter_topic + HOLD_SUFFIX

    @property
    def dataset_id(self) -> str:
        return f"{self.project}.{self.settings.bq_dataset}"

    @property
    def local_sync_worker_url(self) -> str:
        """Where the local stack's push subscription delivers (cli/local/wiring.py)."""
        return f"http://{HOST}:{self.settings.local_ports['LOCAL_SYNC_WORKER_PORT']}/"


def expected(
    settings: Settings,
    terraform: TerraformOutput | None = None,
    terraform_inputs: dict[str, Any] | None = None,
) -> Expected:
    """The expectations for `settings` (and the deployment `terraform` describes, if given).

    `terraform_inputs` defaults to what terraform/variables.tf and terraform.tfvars say.
    """
    columns = tuple(json.loads(schema_text()))
    common: dict[str, Any] = {
        "settings": settings,
        "queue": queue_policy(settings.max_retries),
        "columns": columns,
        "partition_field": provision.PARTITION_FIELD,
        "clustering_fields": tuple(provision.CLUSTERING_FIELDS),
        "view_sql": provision.latest_view_sql(settings),
        "terraform": terraform,
    }
    if settings.is_local:
        push = PushPolicy(
            ack_deadline_seconds=wiring.ACK_DEADLINE_SECONDS,
            min_backoff_seconds=wiring.MIN_BACKOFF_SECONDS,
            max_backoff_seconds=wiring.MAX_BACKOFF_SECONDS,
            max_delivery_attempts=wiring.MAX_DELIVERY_ATTEMPTS,
            retention_seconds=None,
            source="cli/local/wiring.py",
        )
        return Expected(source="settings", push=push, deployment=Deployment(), **common)
    values = inputs() if terraform_inputs is None else terraform_inputs
    source = "terraform/variables.tf and terraform.tfvars" if values else "defaults"
    push = PushPolicy(
        ack_deadline_seconds=int(values.get("push_ack_deadline_seconds", 60)),
        min_backoff_seconds=int(values.get("push_min_backoff_seconds", 10)),
        max_backoff_seconds=int(values.get("push_max_backoff_seconds", 600)),
        max_delivery_attempts=int(values.get("push_max_delivery_attempts", 10)),
        # The operator's REDRIVE_RETENTION_HOURS is message_retention_hours (operator_env).
        retention_seconds=int(settings.redrive_retention_hours * 3600),
        source=source,
    )
    if values.get("max_retries") is not None:
        common["queue"] = queue_policy(int(values["max_retries"]))
    return Expected(
        source=f"terraform output {terraform.path}" if terraform else "settings",
        push=push,
        deployment=_deployment(settings, terraform, values),
        **common,
    )


def _deployment(
    settings: Settings, terraform: TerraformOutput | None, values: dict[str, Any]
) -> Deployment:
    prefix = str(values.get("name_prefix") or "session-sync")
    names = prefixed_names("main.tf")
    function_names = {key: f"{prefix}-{names[key]}" for key in COMPONENTS if key in names}
    urls = terraform.mapping("function_urls") if terraform else {}
    for key, url in urls.items():  # the deployed names win over the derived ones
        function_names[key] = url.rstrip("/").rsplit("/", 1)[-1]
    jobs = {job: f"{prefix}-{suffix}" for job, suffix in prefixed_names("scheduler.tf").items()}
    region = values.get("region")
    salt_secret = f"{prefix}-{names['salt_secret_id']}" if "salt_secret_id" in names else None
    salt_version = values.get("salt_secret_version")
    return Deployment(
        region=str(region) if region else None,
        function_names=function_names,
        function_urls=urls,
        service_accounts=terraform.mapping("service_accounts") if terraform else {},
        push_audience=(terraform.text("push_audience") if terraform else None)
        or settings.push_audience
        or None,
        tasks_audience=(terraform.text("tasks_audience") if terraform else None)
        or settings.tasks_audience
        or None,
        salt_secret=(terraform.text("salt_secret") if terraform else None) or salt_secret,
        salt_secret_version=(terraform.text("salt_secret_version") if terraform else None)
        or (str(salt_version) if salt_version else None),
        scheduler_region=str(values.get("scheduler_region") or region or "") or None,
        scheduler_jobs=jobs,
        ingress=str(values["function_ingress"]) if values.get("function_ingress") else None,
    )
