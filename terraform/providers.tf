provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = merge({ app = "session-sync" }, var.labels)
}

data "google_project" "this" {
  project_id = var.project_id
}
