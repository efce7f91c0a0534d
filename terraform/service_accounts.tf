# One identity per component. Each gets only the roles it needs, bound on the resource it
# uses wherever the service offers resource-level IAM; the bindings live beside those
# resources (pubsub.tf, tasks.tf, bigquery.tf, secrets.tf, functions.tf).

locals {
  service_accounts = {
    trigger       = "Runs the Firestore trigger; publishes SessionCompleted and receives its Eventarc events."
    sync_worker   = "Runs the sync worker: reads sessions, inserts rows, enqueues retry tasks."
    retry_worker  = "Runs the retry worker: retries, redrives and reconciles syncs, records abandoned ones."
    push_invoker  = "Identity of the push subscription's OIDC token; may only invoke the sync worker."
    tasks_invoker = "Identity of the retry tasks' OIDC token; may only invoke the retry worker."
    builder       = "Builds the functions' images with Cloud Build."
  }
}

resource "google_service_account" "component" {
  for_each = local.service_accounts

  project      = var.project_id
  account_id   = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  display_name = "session-sync ${replace(each.key, "_", " ")}"
  description  = each.value

  depends_on = [google_project_service.required]
}

# Project-level roles, only where no narrower resource exists.

# Eventarc delivers Firestore events on behalf of the trigger's service account.
resource "google_project_iam_member" "trigger_event_receiver" {
  project = var.project_id
  role    = "roles/eventarc.eventReceiver"
  member  = google_service_account.component["trigger"].member
}

# Firestore has no per-collection IAM; the condition limits both workers to the one database.
resource "google_project_iam_member" "workers_firestore" {
  for_each = toset(["sync_worker", "retry_worker"])

  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.component[each.key].member

  condition {
    title       = "session-sync-database-only"
    description = "Only the Firestore database the pipeline reads and writes."
    expression  = "resource.name == \"projects/${var.project_id}/databases/${local.firestore_database}\""
  }
}

# BigQuery jobs run in a project, not on a dataset: the retry worker's reconcile query.
resource "google_project_iam_member" "retry_worker_runs_queries" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = google_service_account.component["retry_worker"].member
}

# Cloud Build writes the build logs as the builder account.
resource "google_project_iam_member" "builder_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.component["builder"].member
}

# The Functions API copies the source archive into its own gcf-v2-sources-<number>-<region>
# bucket, which it creates and this configuration cannot name, and Cloud Build reads it from
# there as the builder account: only a project-level grant reaches that bucket.
resource "google_project_iam_member" "builder_reads_sources" {
  project = var.project_id
  role    = "roles/storage.objectAdmin"
  member  = google_service_account.component["builder"].member
}

# New grants take a while to reach Cloud Build; a build started at once fails on them.
resource "time_sleep" "builder_grants_propagate" {
  create_duration = "60s"

  depends_on = [
    google_project_iam_member.builder_logs,
    google_project_iam_member.builder_reads_sources,
    google_artifact_registry_repository_iam_member.builder_pushes_images,
  ]
}

# The workers create tasks whose OIDC token is minted for the tasks-invoker account.
resource "google_service_account_iam_member" "sync_worker_acts_as_tasks_invoker" {
  service_account_id = google_service_account.component["tasks_invoker"].name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.component["sync_worker"].member
}

# Pub/Sub mints the OIDC tokens of push deliveries (the sync worker push subscription and the
# subscription Eventarc creates for the trigger). Projects created before April 2021 need
# this grant explicitly; on newer ones it is harmless.
resource "google_service_account_iam_member" "pubsub_mints_tokens" {
  for_each = toset(["push_invoker", "trigger"])

  service_account_id = google_service_account.component[each.key].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent

  depends_on = [google_project_service.required]
}
