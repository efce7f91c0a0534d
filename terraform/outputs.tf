output "function_urls" {
  description = "URLs of the three functions (reachable only by their invoker identities)."
  value = {
    trigger      = google_cloudfunctions2_function.trigger.url
    sync_worker  = google_cloudfunctions2_function.sync_worker.url
    retry_worker = google_cloudfunctions2_function.retry_worker.url
  }
}

output "service_accounts" {
  description = "Email of each component's service account."
  value       = { for key, account in google_service_account.component : key => account.email }
}

output "push_audience" {
  description = "OIDC audience of the push subscription (PUSH_AUDIENCE)."
  value       = local.push_audience
}

output "tasks_audience" {
  description = "OIDC audience of the retry tasks (TASKS_AUDIENCE)."
  value       = local.tasks_audience
}

output "topic" {
  description = "Topic the trigger, replays and backfills publish to (PUBSUB_TOPIC)."
  value       = google_pubsub_topic.session_completed.name
}

output "dead_letter_topic" {
  description = "Dead-letter topic of the push subscription (PUBSUB_DEAD_LETTER_TOPIC)."
  value       = google_pubsub_topic.dead_letter.name
}

output "push_subscription" {
  description = "Push subscription feeding the sync worker (PUBSUB_PUSH_SUBSCRIPTION); seek it to replay its retention window."
  value       = google_pubsub_subscription.sync_worker_push.name
}

output "dead_letter_subscription" {
  description = "Subscription holding the dead letters for inspection and replay (the dead-letter topic's name plus -hold)."
  value       = google_pubsub_subscription.dead_letter_hold.name
}

output "tasks_queue" {
  description = "Cloud Tasks queue of the retries (TASKS_QUEUE)."
  value       = google_cloud_tasks_queue.bigquery_sync.name
}

output "sessions_table" {
  description = "Fully qualified raw sessions table (project.dataset.table)."
  value       = "${var.project_id}.${google_bigquery_dataset.analytics.dataset_id}.${google_bigquery_table.sessions.table_id}"
}

output "sessions_latest_view" {
  description = "Fully qualified view with the newest row per session."
  value       = "${var.project_id}.${google_bigquery_dataset.analytics.dataset_id}.${google_bigquery_table.sessions_latest.table_id}"
}

output "salt_secret" {
  description = "Short name of the Secret Manager secret holding the pseudonymization salt (it follows name_prefix)."
  value       = google_secret_manager_secret.salt.secret_id
}

output "salt_secret_version" {
  description = "The salt version the functions read; operators read this same version for reconcile, never latest."
  value       = var.salt_secret_version
}

output "source_bucket" {
  description = "Bucket holding the functions' source archives."
  value       = google_storage_bucket.source.name
}

output "operator_env" {
  description = "KEY=value lines an operator exports to run session-sync against this deployment (set -a; . <(terraform output -raw operator_env); set +a). The last line, a comment, shows how to read the pinned salt version for reconcile; the salt itself is never an output."
  value = join("", concat(
    [for key, value in local.operator_settings : "${key}=${value}\n"],
    ["# reconcile only: PSEUDONYMIZATION_SALT=\"$(${local.salt_command})\"\n"],
  ))
}
