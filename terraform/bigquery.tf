resource "google_bigquery_dataset" "analytics" {
  project     = var.project_id
  dataset_id  = var.dataset_id
  location    = var.bigquery_location
  description = "Pseudonymized training sessions streamed from Firestore by session-sync."

  # The synced history goes with the dataset only in a deliberate teardown.
  delete_contents_on_destroy = var.allow_destroy

  dynamic "default_encryption_configuration" {
    for_each = var.bigquery_kms_key_name == null ? [] : [var.bigquery_kms_key_name]
    content {
      kms_key_name = default_encryption_configuration.value
    }
  }

  depends_on = [google_project_service.required]
}

# One row per synced session version; the column list is shared/schema.json, nowhere else.
resource "google_bigquery_table" "sessions" {
  # checkov:skip=CKV_GCP_121:Protected unless allow_destroy (default false) is set for a teardown; checkov cannot evaluate !var.allow_destroy.
  project     = var.project_id
  dataset_id  = google_bigquery_dataset.analytics.dataset_id
  table_id    = var.table_name
  description = "Completed training sessions, one row per synced version (see the sessions_latest view)."

  schema = file("${path.module}/../shared/schema.json")

  time_partitioning {
    type  = "DAY"
    field = "start_time"
  }

  clustering = ["exercise_type", "user_id_hash"]

  # Same key as the dataset default, stated here so the table keeps it if that default changes.
  dynamic "encryption_configuration" {
    for_each = var.bigquery_kms_key_name == null ? [] : [var.bigquery_kms_key_name]
    content {
      kms_key_name = encryption_configuration.value
    }
  }

  deletion_protection = !var.allow_destroy
}

# Exactly one row per session: the newest synced_at (shared/sql/sessions_latest.sql).
resource "google_bigquery_table" "sessions_latest" {
  # checkov:skip=CKV_GCP_80:A view stores no data, so it has no encryption key; the table it reads is encrypted.
  # checkov:skip=CKV_GCP_121:Protected unless allow_destroy (default false) is set for a teardown; checkov cannot evaluate !var.allow_destroy.
  project     = var.project_id
  dataset_id  = google_bigquery_dataset.analytics.dataset_id
  table_id    = var.latest_view_name
  description = "The newest row of each session in ${var.table_name}; what analysts query."

  view {
    query = templatefile("${path.module}/../shared/sql/sessions_latest.sql", {
      project = var.project_id
      dataset = google_bigquery_dataset.analytics.dataset_id
      table   = google_bigquery_table.sessions.table_id
    })
    use_legacy_sql = false
  }

  # Analysts query the view: keep it from being dropped by accident (query changes update it in place).
  deletion_protection = !var.allow_destroy
}

# Both workers insert rows into the sessions table; the view and anything else in the
# dataset are not theirs to touch.
resource "google_bigquery_table_iam_member" "workers_insert_rows" {
  for_each = toset(["sync_worker", "retry_worker"])

  project    = var.project_id
  dataset_id = google_bigquery_table.sessions.dataset_id
  table_id   = google_bigquery_table.sessions.table_id
  role       = "roles/bigquery.dataEditor"
  member     = google_service_account.component[each.key].member
}

# Reconcile compares recent sessions with the view; a view is read with its source table's
# rights too, so the retry worker reads both and nothing else.
resource "google_bigquery_table_iam_member" "retry_worker_reads" {
  for_each = {
    sessions        = google_bigquery_table.sessions.table_id
    sessions_latest = google_bigquery_table.sessions_latest.table_id
  }

  project    = var.project_id
  dataset_id = google_bigquery_dataset.analytics.dataset_id
  table_id   = each.value
  role       = "roles/bigquery.dataViewer"
  member     = google_service_account.component["retry_worker"].member
}
