# The retry worker's two scheduled paths. They call it as Cloud Tasks does (the
# tasks-invoker identity, the TASKS_AUDIENCE audience), so the worker checks one kind of
# token. A failed run is not retried: the next tick comes anyway. The worker's own timeout
# bounds each call, so a longer attempt deadline would only hide a timeout.
# The Cloud Scheduler service agent mints the tokens with the role Google grants it when
# the API is enabled (roles/cloudscheduler.serviceAgent); whoever applies this needs
# iam.serviceAccounts.actAs on the tasks-invoker account to attach it to the jobs.

resource "google_cloud_scheduler_job" "redrive" {
  project          = var.project_id
  region           = local.scheduler_region
  name             = "${var.name_prefix}-redrive"
  description      = "Sends abandoned sync episodes back through the topic once BigQuery accepts inserts."
  schedule         = var.redrive_schedule
  time_zone        = var.scheduler_time_zone
  attempt_deadline = "${var.retry_worker_scaling.timeout_seconds}s"

  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "${google_cloudfunctions2_function.retry_worker.url}/redrive"

    oidc_token {
      service_account_email = google_service_account.component["tasks_invoker"].email
      audience              = local.tasks_audience
    }
  }
}

resource "google_cloud_scheduler_job" "reconcile" {
  project          = var.project_id
  region           = local.scheduler_region
  name             = "${var.name_prefix}-reconcile"
  description      = "Republishes recently completed sessions that are missing from BigQuery."
  schedule         = var.reconcile_schedule
  time_zone        = var.scheduler_time_zone
  attempt_deadline = "${var.retry_worker_scaling.timeout_seconds}s"

  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "${google_cloudfunctions2_function.retry_worker.url}/reconcile"

    oidc_token {
      service_account_email = google_service_account.component["tasks_invoker"].email
      audience              = local.tasks_audience
    }
  }
}
