# Cloud Tasks owns the long retry schedule: the ticket's queue.yaml (10/s, retry limit 10,
# backoff 1 s to 3600 s with 5 doublings). shared/queue_policy.py holds the same values and
# tests/terraform checks that they agree.

resource "google_cloud_tasks_queue" "bigquery_sync" {
  project  = var.project_id
  name     = var.queue_name
  location = var.tasks_location

  rate_limits {
    max_dispatches_per_second = 10
  }

  retry_config {
    # Google documents max_attempts as having queue.yaml's task_retry_limit meaning: the
    # task runs at most max_retries times (X-CloudTasks-TaskRetryCount 0 .. max_retries - 1).
    # The retry worker answers 2xx on that last attempt and records the failure as abandoned.
    max_attempts  = var.max_retries
    min_backoff   = "1s"
    max_backoff   = "3600s"
    max_doublings = 5
  }

  stackdriver_logging_config {
    sampling_ratio = 1.0
  }

  depends_on = [google_project_service.required]
}

resource "google_cloud_tasks_queue_iam_member" "sync_worker_enqueues" {
  project  = var.project_id
  location = google_cloud_tasks_queue.bigquery_sync.location
  name     = google_cloud_tasks_queue.bigquery_sync.name
  role     = "roles/cloudtasks.enqueuer"
  member   = google_service_account.component["sync_worker"].member
}
