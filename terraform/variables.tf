# ---------------------------------------------------------------------------
# Project and locations
# ---------------------------------------------------------------------------

variable "project_id" {
  description = "GCP project that hosts the whole pipeline (Firestore, functions, Pub/Sub, Cloud Tasks, BigQuery)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a GCP project id: 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "Region of the Cloud Functions, their source bucket and their image repository."
  type        = string
  default     = "asia-northeast1"

  validation {
    # Region numbers have one or two digits (europe-west10, europe-west12).
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]{1,2}$", var.region))
    error_message = "region must be a GCP region such as asia-northeast1 or europe-west10."
  }
}

variable "firestore_location" {
  description = "Location of the existing Firestore (default) database; the Eventarc trigger must live there (a region such as asia-northeast1, or the multi-region nam5, nam7 or eur3)."
  type        = string
  default     = "asia-northeast1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]{1,2}$", var.firestore_location)) || contains(["nam5", "nam7", "eur3"], var.firestore_location)
    error_message = "firestore_location must be a Firestore location: a region such as asia-northeast1 or a multi-region (nam5, nam7, eur3)."
  }
}

variable "tasks_location" {
  description = "Region of the Cloud Tasks queue (passed to the workers as TASKS_LOCATION)."
  type        = string
  default     = "asia-northeast1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]{1,2}$", var.tasks_location))
    error_message = "tasks_location must be a GCP region such as asia-northeast1."
  }
}

variable "bigquery_location" {
  description = "Location of the BigQuery dataset (passed to the workers as BQ_LOCATION)."
  type        = string
  default     = "asia-northeast1"

  validation {
    condition     = can(regex("^([A-Za-z]+-[A-Za-z]+[0-9]{1,2}|US|EU)$", var.bigquery_location))
    error_message = "bigquery_location must be a BigQuery region (asia-northeast1) or multi-region (US, EU)."
  }
}

variable "bigquery_kms_key_name" {
  description = "Optional Cloud KMS key (projects/P/locations/L/keyRings/R/cryptoKeys/K) used as the dataset's default encryption key; null keeps Google-managed encryption. The BigQuery service agent needs roles/cloudkms.cryptoKeyEncrypterDecrypter on it."
  type        = string
  default     = null

  validation {
    condition     = var.bigquery_kms_key_name == null || can(regex("^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$", var.bigquery_kms_key_name))
    error_message = "bigquery_kms_key_name must be null or projects/P/locations/L/keyRings/R/cryptoKeys/K."
  }
}

variable "name_prefix" {
  description = "Prefix of the service accounts, functions, secret, bucket and metrics created here; also used to derive default OIDC audiences."
  type        = string
  default     = "session-sync"

  validation {
    # The longest derived name is "<prefix>-tasks-invoker", a service account id of at most 30 characters.
    condition     = can(regex("^[a-z][a-z0-9-]{0,14}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 2-16 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "allow_destroy" {
  description = "Lift the protections for a teardown: the sessions table and view, the dataset's contents, the source bucket's archives and the salt secret may then be destroyed. Apply with true, then destroy; keep false otherwise."
  type        = bool
  default     = false
}

variable "labels" {
  description = "Labels added to every resource that supports them (merged over app = session-sync)."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------
# Names shared with the code (shared/settings.py defaults)
# ---------------------------------------------------------------------------

variable "dataset_id" {
  description = "BigQuery dataset of the sessions table and view (BQ_DATASET)."
  type        = string
  default     = "analytics"

  validation {
    condition     = can(regex("^[A-Za-z0-9_]+$", var.dataset_id)) && length(var.dataset_id) <= 1024
    error_message = "dataset_id may contain only letters, digits and underscores (at most 1024)."
  }
}

variable "table_name" {
  description = "BigQuery table that receives one row per synced session version (BQ_TABLE)."
  type        = string
  default     = "sessions"

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]*$", var.table_name)) && length(var.table_name) <= 1024
    error_message = "table_name must start with a letter or underscore and contain only letters, digits and underscores."
  }
}

variable "latest_view_name" {
  description = "BigQuery view returning the newest row per session (BQ_LATEST_VIEW)."
  type        = string
  default     = "sessions_latest"

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]*$", var.latest_view_name)) && length(var.latest_view_name) <= 1024
    error_message = "latest_view_name must start with a letter or underscore and contain only letters, digits and underscores."
  }
}

variable "topic_name" {
  description = "Pub/Sub topic the trigger publishes SessionCompleted messages to (PUBSUB_TOPIC)."
  type        = string
  default     = "session-completed"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9._~%+-]{2,254}$", var.topic_name))
    error_message = "topic_name must be a valid Pub/Sub topic id."
  }
}

variable "dead_letter_topic_name" {
  description = "Pub/Sub topic receiving messages the push subscription could not deliver (PUBSUB_DEAD_LETTER_TOPIC)."
  type        = string
  default     = "session-completed-dead-letter"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9._~%+-]{2,254}$", var.dead_letter_topic_name))
    error_message = "dead_letter_topic_name must be a valid Pub/Sub topic id."
  }
}

variable "push_subscription_name" {
  description = "Push subscription delivering the topic to the sync worker (PUBSUB_PUSH_SUBSCRIPTION)."
  type        = string
  default     = "session-completed-push"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9._~%+-]{2,254}$", var.push_subscription_name))
    error_message = "push_subscription_name must be a valid Pub/Sub subscription id."
  }
}

variable "queue_name" {
  description = "Cloud Tasks queue holding the retries (TASKS_QUEUE)."
  type        = string
  default     = "bigquery-sync-queue"

  validation {
    condition     = can(regex("^[A-Za-z0-9-]{1,100}$", var.queue_name))
    error_message = "queue_name may contain only letters, digits and hyphens (at most 100)."
  }
}

# ---------------------------------------------------------------------------
# Delivery and retries
# ---------------------------------------------------------------------------

variable "max_retries" {
  description = "Retries after the first failed sync: the queue's max attempts and the workers' SYNC_MAX_RETRIES (the ticket's task_retry_limit)."
  type        = number
  default     = 10

  validation {
    condition     = var.max_retries >= 1 && var.max_retries <= 100 && floor(var.max_retries) == var.max_retries
    error_message = "max_retries must be a whole number between 1 and 100."
  }
}

variable "push_max_delivery_attempts" {
  description = "Deliveries of one message to the sync worker before Pub/Sub moves it to the dead-letter topic."
  type        = number
  default     = 10

  validation {
    condition     = var.push_max_delivery_attempts >= 5 && var.push_max_delivery_attempts <= 100
    error_message = "push_max_delivery_attempts must be between 5 and 100 (Pub/Sub's limits)."
  }
}

variable "push_ack_deadline_seconds" {
  description = "Seconds Pub/Sub waits for the sync worker's answer before redelivering; keep it at least the sync worker's timeout."
  type        = number
  default     = 60

  validation {
    condition     = var.push_ack_deadline_seconds >= 10 && var.push_ack_deadline_seconds <= 600
    error_message = "push_ack_deadline_seconds must be between 10 and 600."
  }
}

variable "push_min_backoff_seconds" {
  description = "Minimum delay before Pub/Sub redelivers a message the sync worker refused."
  type        = number
  default     = 10

  validation {
    condition     = var.push_min_backoff_seconds >= 0 && var.push_min_backoff_seconds <= 600
    error_message = "push_min_backoff_seconds must be between 0 and 600."
  }
}

variable "push_max_backoff_seconds" {
  description = "Maximum delay before Pub/Sub redelivers a message the sync worker refused."
  type        = number
  default     = 600

  validation {
    condition     = var.push_max_backoff_seconds >= 0 && var.push_max_backoff_seconds <= 600
    error_message = "push_max_backoff_seconds must be between 0 and 600."
  }
}

variable "push_audience" {
  description = "OIDC audience of the push subscription's token, checked by the sync worker (PUSH_AUDIENCE). Null derives the sync worker's function URL, which Cloud Run accepts; an override must also be an audience Cloud Run accepts."
  type        = string
  default     = null

  validation {
    condition     = var.push_audience == null || can(regex("^https://", var.push_audience))
    error_message = "push_audience must be null or an https:// URL."
  }
}

variable "tasks_audience" {
  description = "OIDC audience of the retry tasks' token, checked by the retry worker (TASKS_AUDIENCE). Null derives the retry worker's function URL, which Cloud Run accepts; an override must also be an audience Cloud Run accepts."
  type        = string
  default     = null

  validation {
    condition     = var.tasks_audience == null || can(regex("^https://", var.tasks_audience))
    error_message = "tasks_audience must be null or an https:// URL."
  }
}

# ---------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------

variable "source_archive_path" {
  description = "Local path of the zip holding main.py, the service packages and requirements.txt (built by terraform/scripts/build_source_archive.py); relative paths resolve from the directory terraform runs in."
  type        = string
  default     = "../dist/session-sync-source.zip"

  validation {
    condition     = endswith(var.source_archive_path, ".zip")
    error_message = "source_archive_path must name a .zip file."
  }
}

variable "salt_secret_version" {
  description = "Secret Manager version of the pseudonymization salt the workers read, and the one operators read for reconcile (output salt_secret_version). A pinned number, never latest: one more version would silently change every user_id_hash."
  type        = string
  default     = "1"

  validation {
    condition     = can(regex("^[1-9][0-9]*$", var.salt_secret_version))
    error_message = "salt_secret_version must be a pinned version number such as 1 (not latest)."
  }
}

variable "function_ingress" {
  description = "Ingress of the three functions. ALLOW_INTERNAL_ONLY admits Eventarc, Pub/Sub push and Cloud Tasks from this project and refuses the internet."
  type        = string
  default     = "ALLOW_INTERNAL_ONLY"

  validation {
    condition     = contains(["ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.function_ingress)
    error_message = "function_ingress must be ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB; the functions are never open to the internet."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of the three functions."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "batch_window_ms" {
  description = "Milliseconds the sync worker waits to gather concurrent pushes into one insert (BATCH_WINDOW_MS)."
  type        = number
  default     = 20

  validation {
    condition     = var.batch_window_ms >= 0 && var.batch_window_ms <= 10000
    error_message = "batch_window_ms must be between 0 and 10000."
  }
}

variable "batch_max_rows" {
  description = "Maximum rows of one streaming insert (BATCH_MAX_ROWS)."
  type        = number
  default     = 500

  validation {
    condition     = var.batch_max_rows >= 1 && var.batch_max_rows <= 10000
    error_message = "batch_max_rows must be between 1 and 10000."
  }
}

variable "trigger_scaling" {
  description = "Instances, request concurrency, CPU, memory and timeout of the Firestore trigger function."
  type = object({
    min_instances   = optional(number, 0)
    max_instances   = optional(number, 20)
    concurrency     = optional(number, 10)
    cpu             = optional(string, "1")
    memory          = optional(string, "512Mi")
    timeout_seconds = optional(number, 60)
  })
  default = {}

  validation {
    condition = (
      var.trigger_scaling.min_instances >= 0 &&
      can(tonumber(var.trigger_scaling.cpu)) &&
      var.trigger_scaling.max_instances >= max(1, var.trigger_scaling.min_instances) &&
      var.trigger_scaling.concurrency >= 1 && var.trigger_scaling.concurrency <= 1000 &&
      var.trigger_scaling.timeout_seconds >= 1 && var.trigger_scaling.timeout_seconds <= 540
    )
    error_message = "trigger_scaling: cpu a number such as \"1\", 0 <= min_instances <= max_instances (>= 1), 1 <= concurrency <= 1000, 1 <= timeout_seconds <= 540 (event functions)."
  }
}

variable "sync_worker_scaling" {
  description = "Instances, request concurrency, CPU, memory and timeout of the sync worker (its timeout must not exceed push_ack_deadline_seconds)."
  type = object({
    min_instances   = optional(number, 0)
    max_instances   = optional(number, 20)
    concurrency     = optional(number, 40)
    cpu             = optional(string, "1")
    memory          = optional(string, "512Mi")
    timeout_seconds = optional(number, 60)
  })
  default = {}

  validation {
    condition = (
      var.sync_worker_scaling.min_instances >= 0 &&
      can(tonumber(var.sync_worker_scaling.cpu)) &&
      var.sync_worker_scaling.max_instances >= max(1, var.sync_worker_scaling.min_instances) &&
      var.sync_worker_scaling.concurrency >= 1 && var.sync_worker_scaling.concurrency <= 1000 &&
      var.sync_worker_scaling.timeout_seconds >= 1 && var.sync_worker_scaling.timeout_seconds <= 3600
    )
    error_message = "sync_worker_scaling: cpu a number such as \"1\", 0 <= min_instances <= max_instances (>= 1), 1 <= concurrency <= 1000, 1 <= timeout_seconds <= 3600."
  }
}

variable "retry_worker_scaling" {
  description = "Instances, request concurrency, CPU, memory and timeout of the retry worker. The timeout is also the dispatch deadline of the retry tasks (TASKS_DISPATCH_DEADLINE_SECONDS of the sync worker), so it lies in Cloud Tasks' range for HTTP targets, 15 to 1800 seconds."
  type = object({
    min_instances   = optional(number, 0)
    max_instances   = optional(number, 10)
    concurrency     = optional(number, 10)
    cpu             = optional(string, "1")
    memory          = optional(string, "512Mi")
    timeout_seconds = optional(number, 120)
  })
  default = {}

  validation {
    condition = (
      var.retry_worker_scaling.min_instances >= 0 &&
      can(tonumber(var.retry_worker_scaling.cpu)) &&
      var.retry_worker_scaling.max_instances >= max(1, var.retry_worker_scaling.min_instances) &&
      var.retry_worker_scaling.concurrency >= 1 && var.retry_worker_scaling.concurrency <= 1000 &&
      var.retry_worker_scaling.timeout_seconds >= 15 && var.retry_worker_scaling.timeout_seconds <= 1800
    )
    error_message = "retry_worker_scaling: cpu a number such as \"1\", 0 <= min_instances <= max_instances (>= 1), 1 <= concurrency <= 1000, 15 <= timeout_seconds <= 1800 (Cloud Tasks' dispatch deadline range)."
  }
}

# ---------------------------------------------------------------------------
# Self-healing: scheduled redrive and reconcile calls to the retry worker
# ---------------------------------------------------------------------------

variable "message_retention_hours" {
  description = "Hours the push subscription keeps messages, acknowledged ones too (how far back a seek replays). The retry worker redrives an abandoned episode for the same window before declaring it final (REDRIVE_RETENTION_HOURS), so the two cannot disagree. At most 168 (7 days), the most the retry worker accepts."
  type        = number
  default     = 168

  validation {
    # Pub/Sub keeps a subscription's messages 10 minutes to 31 days; the retry worker's
    # REDRIVE_RETENTION_HOURS allows 1 to 168 hours.
    condition     = var.message_retention_hours >= 1 && var.message_retention_hours <= 168 && floor(var.message_retention_hours) == var.message_retention_hours
    error_message = "message_retention_hours must be a whole number of hours between 1 and 168 (7 days)."
  }
}

variable "reconcile_window_hours" {
  description = "Hours of recently completed sessions the daily reconcile compares with BigQuery (RECONCILE_WINDOW_HOURS of the retry worker)."
  type        = number
  default     = 72

  validation {
    condition     = var.reconcile_window_hours >= 1 && var.reconcile_window_hours <= 2160 && floor(var.reconcile_window_hours) == var.reconcile_window_hours
    error_message = "reconcile_window_hours must be a whole number of hours between 1 and 2160 (90 days)."
  }
}

variable "redrive_schedule" {
  description = "Cron schedule (in scheduler_time_zone) of POST <retry worker>/redrive, which sends abandoned episodes back through the topic once BigQuery accepts inserts."
  type        = string
  default     = "*/5 * * * *"

  validation {
    condition     = can(regex("^\\S+( +\\S+){4}$", trimspace(var.redrive_schedule)))
    error_message = "redrive_schedule must be a cron schedule of five fields, such as */5 * * * *."
  }
}

variable "reconcile_schedule" {
  description = "Cron schedule (in scheduler_time_zone) of POST <retry worker>/reconcile, which republishes recently completed sessions missing from BigQuery."
  type        = string
  default     = "0 3 * * *"

  validation {
    condition     = can(regex("^\\S+( +\\S+){4}$", trimspace(var.reconcile_schedule)))
    error_message = "reconcile_schedule must be a cron schedule of five fields, such as 0 3 * * *."
  }
}

variable "scheduler_time_zone" {
  description = "tz database time zone of the two schedules."
  type        = string
  default     = "Etc/UTC"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$", var.scheduler_time_zone))
    error_message = "scheduler_time_zone must be a tz database name such as Etc/UTC or Asia/Tokyo."
  }
}

variable "scheduler_region" {
  description = "Region of the two Cloud Scheduler jobs; null uses region (set it where Cloud Scheduler is not offered in region)."
  type        = string
  default     = null

  validation {
    condition     = var.scheduler_region == null || can(regex("^[a-z]+-[a-z]+[0-9]{1,2}$", var.scheduler_region))
    error_message = "scheduler_region must be null or a GCP region such as asia-northeast1."
  }
}

# ---------------------------------------------------------------------------
# Operators
# ---------------------------------------------------------------------------

variable "operator_members" {
  description = "IAM members (group:ops@example.com, user:..., serviceAccount:...) who operate the pipeline with session-sync (replay, backfill, failures list, reconcile, redrive, doctor, status); operators.tf lists what they get. Empty grants nothing."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for member in var.operator_members : can(regex("^(user|group|serviceAccount|domain|principal|principalSet):[^\\s]+$", member))])
    error_message = "Each operator member must be an IAM member such as group:ops@example.com or user:jane@example.com."
  }
}

# ---------------------------------------------------------------------------
# Monitoring
# ---------------------------------------------------------------------------

variable "notification_channels" {
  description = "Monitoring notification channel ids (projects/P/notificationChannels/N) the alert policies notify; empty leaves the alerts visible in the console only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for channel in var.notification_channels : can(regex("^projects/[^/]+/notificationChannels/[^/]+$", channel))])
    error_message = "Each notification channel must be projects/P/notificationChannels/N."
  }
}

variable "oldest_unacked_alert_seconds" {
  description = "Alert when the push subscription's oldest unacknowledged message is older than this many seconds."
  type        = number
  default     = 600

  validation {
    condition     = var.oldest_unacked_alert_seconds >= 60
    error_message = "oldest_unacked_alert_seconds must be at least 60."
  }
}
