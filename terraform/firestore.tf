# Indexes behind the operator queries (see shared/gcp/firestore_*.py): completed sessions
# across users, optionally by start time, and the failure records by status and age.
resource "google_firestore_index" "completed_sessions_by_start" {
  project     = var.project_id
  database    = "(default)"
  collection  = "sessions"
  query_scope = "COLLECTION_GROUP"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = "startTime"
    order      = "ASCENDING"
  }
  fields {
    field_path = "__name__"
    order      = "ASCENDING"
  }

  depends_on = [google_project_service.required]
}

# `session-sync status` counts the completed sessions of a window by sync status.
resource "google_firestore_index" "completed_sessions_by_sync_status" {
  project     = var.project_id
  database    = "(default)"
  collection  = "sessions"
  query_scope = "COLLECTION_GROUP"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = "bigquerySyncStatus"
    order      = "ASCENDING"
  }
  fields {
    field_path = "startTime"
    order      = "ASCENDING"
  }

  depends_on = [google_project_service.required]
}

resource "google_firestore_index" "failures_by_status_and_age" {
  project    = var.project_id
  database   = "(default)"
  collection = "bigquerySyncFailures"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = "createdAt"
    order      = "DESCENDING"
  }
  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }

  depends_on = [google_project_service.required]
}

# The retry worker's redrive picks abandoned episodes that are due, and finalizes those
# that stayed abandoned past the retention window.
resource "google_firestore_index" "failures_by_status_and_next_redrive" {
  project    = var.project_id
  database   = "(default)"
  collection = "bigquerySyncFailures"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = "nextRedriveAt"
    order      = "ASCENDING"
  }
  fields {
    field_path = "__name__"
    order      = "ASCENDING"
  }

  depends_on = [google_project_service.required]
}

resource "google_firestore_index" "failures_by_status_and_update" {
  project    = var.project_id
  database   = "(default)"
  collection = "bigquerySyncFailures"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = "updatedAt"
    order      = "ASCENDING"
  }
  fields {
    field_path = "__name__"
    order      = "ASCENDING"
  }

  depends_on = [google_project_service.required]
}

# The collection-group equality query on `status` alone needs `status` indexed with
# collection-group scope. A field override replaces every automatic single-field index of
# the field, so it repeats the collection-scope ones (ascending, descending, array-contains)
# that other queries of the app rely on.
resource "google_firestore_field" "sessions_status" {
  project    = var.project_id
  database   = "(default)"
  collection = "sessions"
  field      = "status"

  index_config {
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION_GROUP"
    }
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION"
    }
    indexes {
      order       = "DESCENDING"
      query_scope = "COLLECTION"
    }
    indexes {
      array_config = "CONTAINS"
      query_scope  = "COLLECTION"
    }
  }

  depends_on = [google_project_service.required]
}
