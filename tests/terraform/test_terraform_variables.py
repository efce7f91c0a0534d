"""Variable types, defaults and validation rules, evaluated by Terraform itself.

variables.tf on its own needs no provider, so `terraform init` and `terraform plan` run
offline on a copy of it: the defaults must pass their own rules, the example tfvars must
be accepted, and each rule must reject what it is there to reject.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.terraform.hcl_config import TERRAFORM_DIR, Outcome, run_terraform

PROJECT = {"project_id": "my-project-123"}

# One invalid value per variable and the error message its rule must produce.
INVALID = {
    "project_id": ("Not_A_Project", "project_id must be a GCP project id"),
    "name_prefix": ("prefix-longer-than-sixteen", "name_prefix must be 2-16"),
    "dataset_id": ("bad-dataset", "dataset_id may contain only"),
    "max_retries": ("0", "max_retries must be a whole number between 1 and 100"),
    "push_max_delivery_attempts": ("4", "push_max_delivery_attempts must be between 5 and 100"),
    "push_ack_deadline_seconds": ("5", "push_ack_deadline_seconds must be between 10 and 600"),
    "push_audience": ("http://plain.example", "push_audience must be null or an https:// URL"),
    "function_ingress": ("ALLOW_ALL", "the functions are never open to the internet"),
    "bigquery_kms_key_name": ("my-key", "bigquery_kms_key_name must be null or"),
    "salt_secret_version": ("0", "salt_secret_version must be a pinned version number"),
    "source_archive_path": ("source.tar.gz", "source_archive_path must name a .zip file"),
    "log_level": ("TRACE", "log_level must be DEBUG, INFO, WARNING or ERROR"),
    "notification_channels": ('["channel-1"]', "Each notification channel must be"),
    "sync_worker_scaling": ("{ max_instances = 0 }", "sync_worker_scaling: cpu a number"),
    "retry_worker_scaling": ('{ cpu = "lots" }', "retry_worker_scaling: cpu a number"),
    "message_retention_hours": ("169", "message_retention_hours must be a whole number"),
    "reconcile_window_hours": ("0", "reconcile_window_hours must be a whole number"),
    "redrive_schedule": ("every 5 minutes", "redrive_schedule must be a cron schedule"),
    "reconcile_schedule": ("0 3 * *", "reconcile_schedule must be a cron schedule"),
    "scheduler_time_zone": ("Asia Tokyo", "scheduler_time_zone must be a tz database name"),
    "scheduler_region": ("Tokyo", "scheduler_region must be null or a GCP region"),
    "operator_members": ('["ops@example.com"]', "Each operator member must be an IAM member"),
}

# Values each rule must reject besides the one above, one plan each: (variable, value, message).
ALSO_INVALID = [
    ("region", "europe_west1", "region must be a GCP region"),
    ("firestore_location", "nam6", "firestore_location must be a Firestore location"),
    ("tasks_location", "asia-northeast", "tasks_location must be a GCP region"),
    ("bigquery_location", "ASIA", "bigquery_location must be a BigQuery region"),
    ("salt_secret_version", "latest", "salt_secret_version must be a pinned version number"),
    ("message_retention_hours", "0", "message_retention_hours must be a whole number"),
    ("message_retention_hours", "1.5", "message_retention_hours must be a whole number"),
    ("reconcile_window_hours", "2161", "reconcile_window_hours must be a whole number"),
    ("retry_worker_scaling", "{ timeout_seconds = 14 }", "15 <= timeout_seconds <= 1800"),
    ("retry_worker_scaling", "{ timeout_seconds = 1801 }", "15 <= timeout_seconds <= 1800"),
]

# Documented values the rules must accept: two-digit region numbers, every multi-region, the
# longest dispatch deadline Cloud Tasks allows, the longest redrive window (7 days).
VALID = {
    "region": "europe-west10",
    "tasks_location": "europe-west12",
    "bigquery_location": "europe-west10",
    "firestore_location": "europe-west12",
    "retry_worker_scaling": "{ timeout_seconds = 1800 }",
    "message_retention_hours": "168",
    "scheduler_region": "europe-west10",
    "scheduler_time_zone": "America/Argentina/Buenos_Aires",
}
VALID_FIRESTORE_MULTI_REGIONS = ["nam5", "nam7", "eur3"]
VALID_BIGQUERY_MULTI_REGIONS = ["US", "EU"]


@pytest.fixture(scope="module")
def variables_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tf-variables")
    shutil.copy(TERRAFORM_DIR / "variables.tf", directory / "variables.tf")
    outcome = run_terraform(directory, "init")
    assert outcome.ok, f"terraform init of variables.tf alone failed:\n{outcome.stderr}"
    return directory


def plan(directory: Path, **options: object) -> Outcome:
    return run_terraform(directory, "plan", json=False, **options)


def test_defaults_pass_their_own_validation(variables_only: Path) -> None:
    outcome = plan(variables_only, vars=PROJECT)
    assert outcome.ok, f"the defaults break a validation rule:\n{outcome.stderr}"


def test_tfvars_example_passes_validation(variables_only: Path) -> None:
    example = TERRAFORM_DIR / "terraform.tfvars.example"
    outcome = plan(variables_only, var_files=[str(example)])
    assert outcome.ok, f"terraform.tfvars.example is rejected:\n{outcome.stderr}"


def test_every_rule_rejects_its_invalid_value(variables_only: Path) -> None:
    values = {name: value for name, (value, _) in INVALID.items()}
    outcome = plan(variables_only, vars=values)
    assert not outcome.ok
    text = " ".join(outcome.stderr.split())  # Terraform wraps long messages
    missing = {name: message for name, (_, message) in INVALID.items() if message not in text}
    assert not missing, f"rules that did not fire: {missing}\n{outcome.stderr}"


@pytest.mark.parametrize(("name", "value", "message"), ALSO_INVALID)
def test_rule_rejects(variables_only: Path, name: str, value: str, message: str) -> None:
    outcome = plan(variables_only, vars={**PROJECT, name: value})
    assert not outcome.ok, f"{name} = {value!r} was accepted"
    assert message in " ".join(outcome.stderr.split()), outcome.stderr


def test_documented_values_are_accepted(variables_only: Path) -> None:
    outcome = plan(variables_only, vars={**PROJECT, **VALID})
    assert outcome.ok, f"a documented value is rejected:\n{outcome.stderr}"


@pytest.mark.parametrize(
    ("name", "value"),
    [("firestore_location", v) for v in VALID_FIRESTORE_MULTI_REGIONS]
    + [("bigquery_location", v) for v in VALID_BIGQUERY_MULTI_REGIONS],
)
def test_multi_regions_are_accepted(variables_only: Path, name: str, value: str) -> None:
    outcome = plan(variables_only, vars={**PROJECT, name: value})
    assert outcome.ok, f"{name} = {value!r} is rejected:\n{outcome.stderr}"
