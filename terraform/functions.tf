# The three 2nd gen functions, all built from one source archive of the repository
# (root main.py exposes every entry point; README.md, "Deploy to GCP", explains building it).

resource "google_storage_bucket" "source" {
  # checkov:skip=CKV_GCP_62:Holds only build archives of the application code, no user data; Cloud Audit Logs already record who changes them.
  project  = var.project_id
  name     = "${var.project_id}-${var.name_prefix}-source"
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.allow_destroy

  versioning {
    enabled = true
  }

  # Archive names carry their content hash, so live objects are never overwritten; drop the
  # noncurrent versions a re-upload leaves behind after a month.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.required]
}

# The object name carries the archive's hash, so a new build redeploys the functions and
# an unchanged one does not.
resource "google_storage_bucket_object" "source" {
  bucket       = google_storage_bucket.source.name
  name         = "session-sync/source-${filemd5(var.source_archive_path)}.zip"
  source       = var.source_archive_path
  content_type = "application/zip"
}

resource "google_artifact_registry_repository" "functions" {
  # checkov:skip=CKV_GCP_84:Images hold only the application code and its dependencies, no user data; Google-managed encryption is enough.
  project       = var.project_id
  location      = var.region
  repository_id = "${var.name_prefix}-functions"
  description   = "Images of the session-sync functions."
  format        = "DOCKER"

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }

  depends_on = [google_project_service.required]
}

resource "google_artifact_registry_repository_iam_member" "builder_pushes_images" {
  project    = var.project_id
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.component["builder"].member
}

resource "google_cloudfunctions2_function" "trigger" {
  project     = var.project_id
  location    = var.region
  name        = local.function_names.trigger
  description = "Publishes SessionCompleted when a session document becomes completed."

  build_config {
    runtime           = "python311"
    entry_point       = "on_session_written"
    service_account   = google_service_account.component["builder"].id
    docker_repository = google_artifact_registry_repository.functions.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    min_instance_count               = var.trigger_scaling.min_instances
    max_instance_count               = var.trigger_scaling.max_instances
    max_instance_request_concurrency = var.trigger_scaling.concurrency
    available_cpu                    = var.trigger_scaling.cpu
    available_memory                 = var.trigger_scaling.memory
    timeout_seconds                  = var.trigger_scaling.timeout_seconds
    ingress_settings                 = var.function_ingress
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.component["trigger"].email
    environment_variables            = local.trigger_env
  }

  event_trigger {
    trigger_region        = var.firestore_location
    event_type            = "google.cloud.firestore.document.v1.written"
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = google_service_account.component["trigger"].email

    event_filters {
      attribute = "database"
      value     = local.firestore_database
    }

    event_filters {
      attribute = "document"
      value     = local.session_document_pattern
      operator  = "match-path-pattern"
    }
  }

  lifecycle {
    precondition {
      condition     = var.trigger_scaling.concurrency == 1 || tonumber(var.trigger_scaling.cpu) >= 1
      error_message = "trigger_scaling: concurrency above 1 needs at least 1 CPU."
    }
  }

  depends_on = [
    time_sleep.builder_grants_propagate,
    google_project_iam_member.trigger_event_receiver,
    google_pubsub_topic_iam_member.trigger_publishes,
  ]
}

resource "google_cloudfunctions2_function" "retry_worker" {
  project     = var.project_id
  location    = var.region
  name        = local.function_names.retry_worker
  description = "Cloud Tasks target: retries a failed sync, abandons it after the last attempt."

  build_config {
    runtime           = "python311"
    entry_point       = "retry_worker_task"
    service_account   = google_service_account.component["builder"].id
    docker_repository = google_artifact_registry_repository.functions.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    min_instance_count               = var.retry_worker_scaling.min_instances
    max_instance_count               = var.retry_worker_scaling.max_instances
    max_instance_request_concurrency = var.retry_worker_scaling.concurrency
    available_cpu                    = var.retry_worker_scaling.cpu
    available_memory                 = var.retry_worker_scaling.memory
    timeout_seconds                  = var.retry_worker_scaling.timeout_seconds
    ingress_settings                 = var.function_ingress
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.component["retry_worker"].email
    environment_variables            = local.retry_worker_env

    secret_environment_variables {
      key        = "PSEUDONYMIZATION_SALT"
      project_id = var.project_id
      secret     = google_secret_manager_secret.salt.secret_id
      version    = var.salt_secret_version
    }
  }

  lifecycle {
    precondition {
      condition     = var.retry_worker_scaling.concurrency == 1 || tonumber(var.retry_worker_scaling.cpu) >= 1
      error_message = "retry_worker_scaling: concurrency above 1 needs at least 1 CPU."
    }
    postcondition {
      condition     = var.tasks_audience != null || self.url == local.tasks_audience
      error_message = "The retry worker's URL differs from the derived TASKS_AUDIENCE; set tasks_audience explicitly."
    }
  }

  depends_on = [
    time_sleep.builder_grants_propagate,
    google_secret_manager_secret_iam_member.workers_read_salt,
  ]
}

resource "google_cloudfunctions2_function" "sync_worker" {
  project     = var.project_id
  location    = var.region
  name        = local.function_names.sync_worker
  description = "Pub/Sub push target: inserts completed sessions into BigQuery, enqueues retries."

  build_config {
    runtime           = "python311"
    entry_point       = "sync_worker_push"
    service_account   = google_service_account.component["builder"].id
    docker_repository = google_artifact_registry_repository.functions.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    min_instance_count               = var.sync_worker_scaling.min_instances
    max_instance_count               = var.sync_worker_scaling.max_instances
    max_instance_request_concurrency = var.sync_worker_scaling.concurrency
    available_cpu                    = var.sync_worker_scaling.cpu
    available_memory                 = var.sync_worker_scaling.memory
    timeout_seconds                  = var.sync_worker_scaling.timeout_seconds
    ingress_settings                 = var.function_ingress
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.component["sync_worker"].email
    environment_variables            = local.sync_worker_env

    secret_environment_variables {
      key        = "PSEUDONYMIZATION_SALT"
      project_id = var.project_id
      secret     = google_secret_manager_secret.salt.secret_id
      version    = var.salt_secret_version
    }
  }

  lifecycle {
    precondition {
      condition     = var.sync_worker_scaling.concurrency == 1 || tonumber(var.sync_worker_scaling.cpu) >= 1
      error_message = "sync_worker_scaling: concurrency above 1 needs at least 1 CPU."
    }
    postcondition {
      condition     = var.push_audience != null || self.url == local.push_audience
      error_message = "The sync worker's URL differs from the derived PUSH_AUDIENCE; set push_audience explicitly."
    }
  }

  depends_on = [
    time_sleep.builder_grants_propagate,
    google_secret_manager_secret_iam_member.workers_read_salt,
    google_cloud_tasks_queue_iam_member.sync_worker_enqueues,
    google_service_account_iam_member.sync_worker_acts_as_tasks_invoker,
  ]
}

# Invocation: each function accepts exactly one caller identity (no allUsers anywhere).

resource "google_cloud_run_v2_service_iam_member" "trigger_invoked_by_eventarc" {
  project  = var.project_id
  location = google_cloudfunctions2_function.trigger.location
  name     = google_cloudfunctions2_function.trigger.name # the function's Cloud Run service has its name
  role     = "roles/run.invoker"
  member   = google_service_account.component["trigger"].member
}

resource "google_cloud_run_v2_service_iam_member" "sync_worker_invoked_by_push" {
  project  = var.project_id
  location = google_cloudfunctions2_function.sync_worker.location
  name     = google_cloudfunctions2_function.sync_worker.name # the function's Cloud Run service has its name
  role     = "roles/run.invoker"
  member   = google_service_account.component["push_invoker"].member
}

resource "google_cloud_run_v2_service_iam_member" "retry_worker_invoked_by_tasks" {
  project  = var.project_id
  location = google_cloudfunctions2_function.retry_worker.location
  name     = google_cloudfunctions2_function.retry_worker.name # the function's Cloud Run service has its name
  role     = "roles/run.invoker"
  member   = google_service_account.component["tasks_invoker"].member
}
