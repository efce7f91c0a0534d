# Alerts for the ways a session can be stuck: dead-lettered by Pub/Sub, waiting too long on
# the push subscription, abandoned by the retry worker after the last retry, or final once
# the redrive window has passed.

resource "google_monitoring_alert_policy" "dead_letters" {
  project      = var.project_id
  display_name = "session-sync: messages dead-lettered"
  combiner     = "OR"

  conditions {
    display_name = "Push subscription forwarded messages to ${var.dead_letter_topic_name}"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.sync_worker_push.name}\" AND metric.type = \"pubsub.googleapis.com/subscription/dead_letter_message_count\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }

  conditions {
    display_name = "Dead letters waiting in ${google_pubsub_subscription.dead_letter_hold.name}"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.dead_letter_hold.name}\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  notification_channels = var.notification_channels

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Pub/Sub gave up delivering SessionCompleted messages to the sync worker after ${var.push_max_delivery_attempts} attempts. Fix the cause, then replay them with `session-sync replay --dead-letters`."
  }

  depends_on = [google_project_service.required]
}

resource "google_monitoring_alert_policy" "push_backlog_age" {
  project      = var.project_id
  display_name = "session-sync: push subscription falling behind"
  combiner     = "OR"

  conditions {
    display_name = "Oldest unacked message on ${google_pubsub_subscription.sync_worker_push.name} older than ${var.oldest_unacked_alert_seconds}s"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.sync_worker_push.name}\" AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.oldest_unacked_alert_seconds
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  notification_channels = var.notification_channels

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The sync worker is not acknowledging pushes in time: it is failing (5xx), too slow, or cannot scale. Check its logs and the BigQuery and Cloud Tasks errors."
  }

  depends_on = [google_project_service.required]
}

# The retry worker's log lines (structlog JSON, `message` key) the operator must hear about.
# Monitoring needs up to ten minutes to know a new log-based metric, and an alert policy
# created on it before then fails with 404; so the alerts match these lines themselves and
# the metrics, on the same filters, only count them for charts.
locals {
  retry_worker_log = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"${google_cloudfunctions2_function.retry_worker.name}\""

  sync_abandoned_log_filter = "${local.retry_worker_log} AND jsonPayload.message = \"sync_abandoned\""
  sync_final_log_filter     = "${local.retry_worker_log} AND jsonPayload.message = \"sync_final\""
}

resource "google_logging_metric" "sync_abandoned" {
  project     = var.project_id
  name        = "${replace(var.name_prefix, "-", "_")}_sync_abandoned"
  description = "Syncs the retry worker abandoned after the last Cloud Tasks retry."
  filter      = local.sync_abandoned_log_filter

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "session-sync abandoned syncs"
  }

  depends_on = [google_project_service.required]
}

resource "google_monitoring_alert_policy" "sync_abandoned" {
  project      = var.project_id
  display_name = "session-sync: sync abandoned after the last retry"
  combiner     = "OR"

  conditions {
    display_name = "Retry worker logged sync_abandoned"
    condition_matched_log {
      filter = local.sync_abandoned_log_filter
    }
  }

  notification_channels = var.notification_channels

  alert_strategy {
    auto_close = "86400s"
    notification_rate_limit {
      period = "300s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A session failed its first sync and all ${var.max_retries} retries. Its record in Firestore `bigquerySyncFailures` has status `abandoned`; the redrive job (schedule `${var.redrive_schedule}`) sends it through the topic again once BigQuery accepts inserts, for ${var.message_retention_hours} hours. If this alert keeps firing, fix the cause."
  }
}

# The retry worker logs `sync_final` when an abandoned episode stayed unsynced for the whole
# redrive window: nothing retries it any more.
resource "google_logging_metric" "sync_final" {
  project     = var.project_id
  name        = "${replace(var.name_prefix, "-", "_")}_sync_final"
  description = "Sync episodes the retry worker declared final after the redrive window."
  filter      = local.sync_final_log_filter

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "session-sync final sync episodes"
  }
}

resource "google_monitoring_alert_policy" "sync_final" {
  project      = var.project_id
  display_name = "session-sync: sync episode final, no longer redriven"
  combiner     = "OR"

  conditions {
    display_name = "Retry worker logged sync_final"
    condition_matched_log {
      filter = local.sync_final_log_filter
    }
  }

  notification_channels = var.notification_channels

  alert_strategy {
    auto_close = "86400s"
    notification_rate_limit {
      period = "300s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A sync episode could not be synced within the ${var.message_retention_hours}-hour redrive window and is now final: no retry or redrive will touch it again. Fix the cause, then replay the abandoned failures with `session-sync replay --failures abandoned`."
  }
}
