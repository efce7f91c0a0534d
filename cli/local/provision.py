"""Create the pipeline's cloud resources on the emulators from the definitions production uses."""

from __future__ import annotations

import json
from importlib import resources
from string import Template

from google.api_core import exceptions
from google.cloud import bigquery, pubsub_v1, tasks_v2
from google.protobuf import duration_pb2

from cli.local.errors import StackError
from shared.gcp.clients import bigquery_client, publisher_client, queue_path, tasks_client
from shared.queue_policy import queue_policy
from shared.settings import Settings

PARTITION_FIELD = "start_time"
CLUSTERING_FIELDS = ["exercise_type", "user_id_hash"]
TIMEOUT_SECONDS = 30.0


def provision(settings: Settings) -> None:
    """Create topics, dataset, table, view and retry queue; idempotent (existing ones are kept).

    Raises `StackError` naming the resource an emulator refused.
    """
    _topics(settings)
    _bigquery(settings)
    _queue(settings)


def table_schema() -> list[bigquery.SchemaField]:
    """The sessions table's columns, from `shared/schema.json`."""
    fields = json.loads(resources.files("shared").joinpath("schema.json").read_text())
    return [bigquery.SchemaField.from_api_repr(field) for field in fields]


def latest_view_sql(settings: Settings) -> str:
    """The `sessions_latest` view's SQL, rendered from `shared/sql/sessions_latest.sql`."""
    template = resources.files("shared").joinpath("sql", "sessions_latest.sql").read_text()
    return Template(template).substitute(
        project=settings.project, dataset=settings.bq_dataset, table=settings.bq_table
    )


def topic_paths(settings: Settings) -> list[str]:
    """`projects/P/topics/T` of the pipeline topic and its dead-letter topic."""
    return [
        pubsub_v1.PublisherClient.topic_path(settings.project, topic)
        for topic in (settings.topic, settings.dead_letter_topic)
    ]


def _topics(settings: Settings) -> None:
    with publisher_client(settings) as publisher:
        for topic in topic_paths(settings):
            try:
                publisher.create_topic(name=topic, timeout=TIMEOUT_SECONDS)
            except exceptions.AlreadyExists:
                pass
            except exceptions.GoogleAPICallError as error:
                raise StackError(f"Pub/Sub emulator refused topic {topic}: {error}") from error


def _bigquery(settings: Settings) -> None:
    dataset = bigquery.Dataset(f"{settings.project}.{settings.bq_dataset}")
    dataset.location = settings.bq_location
    table = bigquery.Table(settings.table_id, schema=table_schema())
    table.time_partitioning = bigquery.TimePartitioning(
        type_=bigquery.TimePartitioningType.DAY, field=PARTITION_FIELD
    )
    table.clustering_fields = CLUSTERING_FIELDS
    view = bigquery.Table(settings.latest_view_id)
    view.view_query = latest_view_sql(settings)
    with bigquery_client(settings) as client:
        for resource in (dataset, table, view):
            try:
                if isinstance(resource, bigquery.Dataset):
                    client.create_dataset(resource, exists_ok=True, timeout=TIMEOUT_SECONDS)
                else:
                    client.create_table(resource, exists_ok=True, timeout=TIMEOUT_SECONDS)
            except exceptions.GoogleAPICallError as error:
                raise StackError(f"BigQuery emulator refused {resource}: {error}") from error


def _queue(settings: Settings) -> None:
    policy = queue_policy(settings.max_retries)
    queue = tasks_v2.Queue(
        name=queue_path(settings),
        rate_limits=tasks_v2.RateLimits(max_dispatches_per_second=policy.max_dispatches_per_second),
        retry_config=tasks_v2.RetryConfig(
            # As terraform: each dispatch of a retry task is one retry (the first attempt
            # happened in the sync worker), so the task runs at most max_retries times.
            max_attempts=policy.max_retries,
            min_backoff=duration_pb2.Duration(seconds=int(policy.min_backoff_seconds)),
            max_backoff=duration_pb2.Duration(seconds=int(policy.max_backoff_seconds)),
            max_doublings=policy.max_doublings,
        ),
    )
    parent = f"projects/{settings.project}/locations/{settings.tasks_location}"
    with tasks_client(settings) as client:
        try:
            client.create_queue(parent=parent, queue=queue, timeout=TIMEOUT_SECONDS)
        except exceptions.AlreadyExists:
            pass
        except exceptions.GoogleAPICallError as error:
            raise StackError(f"Cloud Tasks emulator refused queue {queue.name}: {error}") from error
