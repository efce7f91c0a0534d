# Names and values derived once and shared by the files of this configuration.

locals {
  # The code reads only the (default) database (shared/settings.py has no database setting).
  firestore_database       = "(default)"
  session_document_pattern = "users/{userId}/sessions/{sessionId}"

  function_names = {
    trigger      = "${var.name_prefix}-trigger"
    sync_worker  = "${var.name_prefix}-sync-worker"
    retry_worker = "${var.name_prefix}-retry-worker"
  }

  # A 2nd gen function's URL is known before it exists; deriving the audiences from it avoids
  # a cycle (a function cannot reference its own URL) and gives tokens Cloud Run accepts.
  # The functions' postconditions check that the derived URL is the deployed one.
  function_base_url = "https://${var.region}-${var.project_id}.cloudfunctions.net"
  push_audience     = coalesce(var.push_audience, "${local.function_base_url}/${local.function_names.sync_worker}")
  tasks_audience    = coalesce(var.tasks_audience, "${local.function_base_url}/${local.function_names.retry_worker}")

  # The dead-letter hold subscription keeps its letters seven days for an operator to replay
  # them; the push subscription's retention is message_retention_hours.
  message_retention = "604800s"

  scheduler_region = coalesce(var.scheduler_region, var.region)

  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  salt_secret_id = "${var.name_prefix}-pseudonymization-salt"

  # Environment of each function: every key must be a name in shared/settings.py ENV_NAMES.
  trigger_env = {
    PIPELINE_MODE        = "cloud"
    GOOGLE_CLOUD_PROJECT = var.project_id
    PUBSUB_TOPIC         = google_pubsub_topic.session_completed.name
    LOG_LEVEL            = var.log_level
  }

  # The sync worker creates the retry tasks: their dispatch deadline is the retry worker's
  # timeout, since Cloud Tasks cancels a task whose handler outlives its deadline.
  sync_worker_env = {
    PIPELINE_MODE                   = "cloud"
    GOOGLE_CLOUD_PROJECT            = var.project_id
    BQ_DATASET                      = google_bigquery_dataset.analytics.dataset_id
    BQ_TABLE                        = google_bigquery_table.sessions.table_id
    BQ_LOCATION                     = var.bigquery_location
    TASKS_LOCATION                  = google_cloud_tasks_queue.bigquery_sync.location
    TASKS_QUEUE                     = google_cloud_tasks_queue.bigquery_sync.name
    RETRY_WORKER_URL                = google_cloudfunctions2_function.retry_worker.url
    TASKS_SERVICE_ACCOUNT           = google_service_account.component["tasks_invoker"].email
    TASKS_AUDIENCE                  = local.tasks_audience
    SYNC_MAX_RETRIES                = tostring(var.max_retries)
    TASKS_DISPATCH_DEADLINE_SECONDS = tostring(var.retry_worker_scaling.timeout_seconds)
    PUSH_AUDIENCE                   = local.push_audience
    PUSH_SERVICE_ACCOUNT            = google_service_account.component["push_invoker"].email
    BATCH_WINDOW_MS                 = tostring(var.batch_window_ms)
    BATCH_MAX_ROWS                  = tostring(var.batch_max_rows)
    LOG_LEVEL                       = var.log_level
  }

  # The retry worker never enqueues (Cloud Tasks' retry config does), so it gets no queue
  # settings and not its own URL (that would be a cycle); it checks the token of the tasks
  # and of the scheduled calls against TASKS_SERVICE_ACCOUNT and TASKS_AUDIENCE, abandons
  # after SYNC_MAX_RETRIES, redrives through PUBSUB_TOPIC and reconciles against the view.
  retry_worker_env = {
    PIPELINE_MODE           = "cloud"
    GOOGLE_CLOUD_PROJECT    = var.project_id
    BQ_DATASET              = google_bigquery_dataset.analytics.dataset_id
    BQ_TABLE                = google_bigquery_table.sessions.table_id
    BQ_LATEST_VIEW          = google_bigquery_table.sessions_latest.table_id
    BQ_LOCATION             = var.bigquery_location
    PUBSUB_TOPIC            = google_pubsub_topic.session_completed.name
    TASKS_SERVICE_ACCOUNT   = google_service_account.component["tasks_invoker"].email
    TASKS_AUDIENCE          = local.tasks_audience
    SYNC_MAX_RETRIES        = tostring(var.max_retries)
    RECONCILE_WINDOW_HOURS  = tostring(var.reconcile_window_hours)
    REDRIVE_RETENTION_HOURS = tostring(var.message_retention_hours)
    LOG_LEVEL               = var.log_level
  }
}
