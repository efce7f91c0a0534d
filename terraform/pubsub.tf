resource "google_pubsub_topic" "session_completed" {
  # checkov:skip=CKV_GCP_83:Messages are references (user and session ids) kept at most 7 days under Google-managed encryption; no CMEK key is managed here.
  project = var.project_id
  name    = var.topic_name

  depends_on = [google_project_service.required]
}

resource "google_pubsub_topic" "dead_letter" {
  # checkov:skip=CKV_GCP_83:Messages are references (user and session ids) kept at most 7 days under Google-managed encryption; no CMEK key is managed here.
  project = var.project_id
  name    = var.dead_letter_topic_name

  depends_on = [google_project_service.required]
}

# The trigger publishes completed sessions, the retry worker its redrives and reconcile
# repairs (replays and backfills publish as the operator).
resource "google_pubsub_topic_iam_member" "trigger_publishes" {
  project = var.project_id
  topic   = google_pubsub_topic.session_completed.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.component["trigger"].member
}

resource "google_pubsub_topic_iam_member" "retry_worker_publishes" {
  project = var.project_id
  topic   = google_pubsub_topic.session_completed.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.component["retry_worker"].member
}

resource "google_pubsub_subscription" "sync_worker_push" {
  project = var.project_id
  name    = var.push_subscription_name
  topic   = google_pubsub_topic.session_completed.id

  ack_deadline_seconds = var.push_ack_deadline_seconds

  # Keep acknowledged messages too, so `gcloud pubsub subscriptions seek` can replay them; the
  # retry worker redrives for the same window (REDRIVE_RETENTION_HOURS).
  message_retention_duration = "${var.message_retention_hours * 3600}s"
  retain_acked_messages      = true

  expiration_policy {
    ttl = "" # never expires, even when idle
  }

  push_config {
    push_endpoint = google_cloudfunctions2_function.sync_worker.url

    oidc_token {
      service_account_email = google_service_account.component["push_invoker"].email
      audience              = local.push_audience
    }
  }

  retry_policy {
    minimum_backoff = "${var.push_min_backoff_seconds}s"
    maximum_backoff = "${var.push_max_backoff_seconds}s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.push_max_delivery_attempts
  }

  lifecycle {
    precondition {
      condition     = var.sync_worker_scaling.timeout_seconds <= var.push_ack_deadline_seconds
      error_message = "push_ack_deadline_seconds must be at least the sync worker's timeout, or Pub/Sub redelivers messages still being processed."
    }
    precondition {
      condition     = var.push_min_backoff_seconds <= var.push_max_backoff_seconds
      error_message = "push_min_backoff_seconds must not exceed push_max_backoff_seconds."
    }
  }

  # The dead-letter policy only works once the Pub/Sub service agent may use both ends.
  depends_on = [
    google_pubsub_topic_iam_member.pubsub_agent_publishes_dead_letters,
  ]
}

# Holds the dead letters for a week, for `session-sync replay --dead-letters` and the alert below.
resource "google_pubsub_subscription" "dead_letter_hold" {
  project = var.project_id
  name    = "${var.dead_letter_topic_name}-hold"
  topic   = google_pubsub_topic.dead_letter.id

  ack_deadline_seconds       = 60
  message_retention_duration = local.message_retention
  retain_acked_messages      = true

  expiration_policy {
    ttl = ""
  }
}

# The Pub/Sub service agent forwards undeliverable messages: it publishes to the dead-letter
# topic and acknowledges them on the push subscription.
resource "google_pubsub_topic_iam_member" "pubsub_agent_publishes_dead_letters" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_acks_dead_letters" {
  project      = var.project_id
  subscription = google_pubsub_subscription.sync_worker_push.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}
