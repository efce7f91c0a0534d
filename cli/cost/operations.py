"""The names of the counted operations: the vocabulary of counts.json, written by the
benchmark (bench/) and read by the cost model."""

from __future__ import annotations

# The billing units counted, one name each. Sizes are bytes.
FIRESTORE_READS = "firestore.document_reads"
FIRESTORE_WRITES = "firestore.document_writes"
INVOCATIONS = "functions.invocations"
IGNORED = "functions.invocations_ignored"  # trigger events that published nothing
REQUEST_SECONDS = "functions.request_seconds"  # handler wall time, summed
PUBLISHED = "pubsub.messages_published"
PUBLISH_REQUESTS = "pubsub.publish_requests"
PUBLISH_BILLABLE = "pubsub.publish_billable_bytes"  # max(1000 B, request size) per request
DELIVERED = "pubsub.messages_delivered"
DELIVERY_BILLABLE = "pubsub.delivery_billable_bytes"  # max(1000 B, message size) per push
MESSAGE_BYTES = "pubsub.message_bytes"  # data + attributes of every published message
TASK_OPERATIONS = "tasks.operations"  # API calls and dispatch attempts
ROWS_STREAMED = "bigquery.rows_streamed"
ROW_BYTES = "bigquery.row_bytes"  # BigQuery's data-size rules, summed
STREAMING_BILLABLE = "bigquery.streaming_billable_bytes"  # max(1 KB, row size) per row
ROWS_REFUSED = "bigquery.rows_refused"  # sent but not inserted (not billed)
QUERIES = "bigquery.queries"
QUERY_BYTES = "bigquery.query_bytes_scanned"  # bytes a query reads
QUERY_BILLABLE = "bigquery.query_billable_bytes"  # at least 10 MB per table a query reads
LOG_ENTRIES = "logging.entries"
LOG_BYTES = "logging.bytes"

ALL = (
    FIRESTORE_READS,
    FIRESTORE_WRITES,
    INVOCATIONS,
    IGNORED,
    REQUEST_SECONDS,
    PUBLISHED,
    PUBLISH_REQUESTS,
    PUBLISH_BILLABLE,
    DELIVERED,
    DELIVERY_BILLABLE,
    MESSAGE_BYTES,
    TASK_OPERATIONS,
    ROWS_STREAMED,
    ROW_BYTES,
    STREAMING_BILLABLE,
    ROWS_REFUSED,
    QUERIES,
    QUERY_BYTES,
    QUERY_BILLABLE,
    LOG_ENTRIES,
    LOG_BYTES,
)
