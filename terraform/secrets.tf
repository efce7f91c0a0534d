# The pseudonymization salt. Terraform creates the secret only: its value is added with
# gcloud (see "Deploy to GCP" in README.md) so it never appears in code, plans or state.

resource "google_secret_manager_secret" "salt" {
  project   = var.project_id
  secret_id = local.salt_secret_id

  replication {
    auto {}
  }

  # Destroying the secret destroys every salt version, and with it the pseudonyms' key.
  deletion_protection = !var.allow_destroy

  depends_on = [google_project_service.required]
}

resource "google_secret_manager_secret_iam_member" "workers_read_salt" {
  for_each = toset(["sync_worker", "retry_worker"])

  project   = var.project_id
  secret_id = google_secret_manager_secret.salt.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.component[each.key].member
}
