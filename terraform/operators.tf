# What operator_members need to run session-sync against this deployment: Firestore
# sessions and failure records (read, and write for redrive and failure updates), publish
# replays, drain the dead-letter hold subscription, query BigQuery, read the pinned salt
# for reconcile, and read backlogs and resource state for status and doctor. Resource-level
# wherever the service offers it.

locals {
  # The settings an operator exports to run session-sync here (output operator_env): the
  # same values the functions receive, the redrive and reconcile windows included, so a run
  # by hand decides as the retry worker does. The salt is never an output; only the command
  # that reads the pinned version the functions use.
  operator_settings = {
    PIPELINE_MODE            = "cloud"
    GOOGLE_CLOUD_PROJECT     = var.project_id
    BQ_DATASET               = google_bigquery_dataset.analytics.dataset_id
    BQ_TABLE                 = google_bigquery_table.sessions.table_id
    BQ_LATEST_VIEW           = google_bigquery_table.sessions_latest.table_id
    BQ_LOCATION              = var.bigquery_location
    PUBSUB_TOPIC             = google_pubsub_topic.session_completed.name
    PUBSUB_DEAD_LETTER_TOPIC = google_pubsub_topic.dead_letter.name
    PUBSUB_PUSH_SUBSCRIPTION = google_pubsub_subscription.sync_worker_push.name
    TASKS_LOCATION           = google_cloud_tasks_queue.bigquery_sync.location
    TASKS_QUEUE              = google_cloud_tasks_queue.bigquery_sync.name
    REDRIVE_RETENTION_HOURS  = tostring(var.message_retention_hours)
    RECONCILE_WINDOW_HOURS   = tostring(var.reconcile_window_hours)
  }
  salt_command = "gcloud secrets versions access ${var.salt_secret_version} --secret=${google_secret_manager_secret.salt.secret_id} --project=${var.project_id}"

  operators = toset(var.operator_members)

  operator_topics = {
    session_completed = google_pubsub_topic.session_completed.name
    dead_letter       = google_pubsub_topic.dead_letter.name
  }
  operator_subscriptions = {
    push = google_pubsub_subscription.sync_worker_push.name
    hold = google_pubsub_subscription.dead_letter_hold.name
  }
  operator_functions = {
    trigger      = google_cloudfunctions2_function.trigger.name
    sync_worker  = google_cloudfunctions2_function.sync_worker.name
    retry_worker = google_cloudfunctions2_function.retry_worker.name
  }
}

# Firestore has no per-collection IAM; the condition limits operators to the one database.
resource "google_project_iam_member" "operators_firestore" {
  for_each = local.operators

  project = var.project_id
  role    = "roles/datastore.user"
  member  = each.value

  condition {
    title       = "session-sync-database-only"
    description = "Only the Firestore database the pipeline reads and writes."
    expression  = "resource.name == \"projects/${var.project_id}/databases/${local.firestore_database}\""
  }
}

# Query jobs, Monitoring time series and the Cloud Scheduler job list exist only per project.
resource "google_project_iam_member" "operators_run_queries" {
  for_each = local.operators

  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = each.value
}

resource "google_project_iam_member" "operators_read_metrics" {
  for_each = local.operators

  project = var.project_id
  role    = "roles/monitoring.viewer"
  member  = each.value
}

resource "google_project_iam_member" "operators_view_schedules" {
  for_each = local.operators

  project = var.project_id
  role    = "roles/cloudscheduler.viewer"
  member  = each.value
}

resource "google_pubsub_topic_iam_member" "operators_publish" {
  for_each = local.operators

  project = var.project_id
  topic   = google_pubsub_topic.session_completed.name
  role    = "roles/pubsub.publisher"
  member  = each.value
}

resource "google_pubsub_topic_iam_member" "operators_view_topics" {
  for_each = {
    for pair in setproduct(keys(local.operator_topics), var.operator_members) :
    join(" ", pair) => { target = local.operator_topics[pair[0]], member = pair[1] }
  }

  project = var.project_id
  topic   = each.value.target
  role    = "roles/pubsub.viewer"
  member  = each.value.member
}

resource "google_pubsub_subscription_iam_member" "operators_drain_dead_letters" {
  for_each = local.operators

  project      = var.project_id
  subscription = google_pubsub_subscription.dead_letter_hold.name
  role         = "roles/pubsub.subscriber"
  member       = each.value
}

resource "google_pubsub_subscription_iam_member" "operators_view_subscriptions" {
  for_each = {
    for pair in setproduct(keys(local.operator_subscriptions), var.operator_members) :
    join(" ", pair) => { target = local.operator_subscriptions[pair[0]], member = pair[1] }
  }

  project      = var.project_id
  subscription = each.value.target
  role         = "roles/pubsub.viewer"
  member       = each.value.member
}

resource "google_bigquery_dataset_iam_member" "operators_read_dataset" {
  for_each = local.operators

  project    = var.project_id
  dataset_id = google_bigquery_dataset.analytics.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = each.value
}

# reconcile reads the pinned salt version; doctor checks that version's state.
resource "google_secret_manager_secret_iam_member" "operators_read_salt" {
  for_each = local.operators

  project   = var.project_id
  secret_id = google_secret_manager_secret.salt.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value
}

resource "google_secret_manager_secret_iam_member" "operators_view_salt_versions" {
  for_each = local.operators

  project   = var.project_id
  secret_id = google_secret_manager_secret.salt.secret_id
  role      = "roles/secretmanager.viewer"
  member    = each.value
}

resource "google_cloud_tasks_queue_iam_member" "operators_view_queue" {
  for_each = local.operators

  project  = var.project_id
  location = google_cloud_tasks_queue.bigquery_sync.location
  name     = google_cloud_tasks_queue.bigquery_sync.name
  role     = "roles/cloudtasks.viewer"
  member   = each.value
}

resource "google_cloudfunctions2_function_iam_member" "operators_view_functions" {
  for_each = {
    for pair in setproduct(keys(local.operator_functions), var.operator_members) :
    join(" ", pair) => { target = local.operator_functions[pair[0]], member = pair[1] }
  }

  project        = var.project_id
  location       = var.region
  cloud_function = each.value.target
  role           = "roles/cloudfunctions.viewer"
  member         = each.value.member
}

# `session-sync redrive` syncs one due episode itself as its probe before publishing the
# rest, so it inserts into the sessions table (that table only, like the workers).
resource "google_bigquery_table_iam_member" "operators_insert_rows" {
  for_each = local.operators

  project    = var.project_id
  dataset_id = google_bigquery_table.sessions.dataset_id
  table_id   = google_bigquery_table.sessions.table_id
  role       = "roles/bigquery.dataEditor"
  member     = each.value
}
