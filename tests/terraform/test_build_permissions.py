"""The builder account can build on a first apply: the grants Cloud Build needs, then a wait.

The Functions API copies the source into its own `gcf-v2-sources-<number>-<region>` bucket
and Cloud Build reads it from there as the builder account, so a grant on this
configuration's bucket alone is not enough. New grants take a while to propagate, so the
functions wait for them as the provider's custom-builder example does.
"""

from __future__ import annotations

import re

import pytest

from tests.terraform.hcl_config import TERRAFORM_DIR, Config, expression, terraform_config

FUNCTIONS = ("trigger", "sync_worker", "retry_worker")
BUILDER = '${google_service_account.component["builder"].member}'


@pytest.fixture(scope="module")
def config() -> Config:
    return terraform_config()


def builder_project_roles(config: Config) -> dict[str, str]:
    """Role -> resource address of each project-level grant to the builder account."""
    return {
        body["role"]: f"google_project_iam_member.{name}"
        for name, body in config.of_type("google_project_iam_member").items()
        if body["member"] == BUILDER
    }


def test_builder_reads_sources_and_writes_logs_project_wide(config: Config) -> None:
    roles = builder_project_roles(config)
    assert "roles/storage.objectAdmin" in roles, (
        "Cloud Build reads the copy in gcf-v2-sources-*, a bucket this configuration does not own"
    )
    assert "roles/logging.logWriter" in roles


def test_builder_pushes_to_the_repository_every_function_builds_into(config: Config) -> None:
    repositories = {
        expression(body["repository"])
        for body in config.of_type("google_artifact_registry_repository_iam_member").values()
        if body["member"] == BUILDER and body["role"] == "roles/artifactregistry.writer"
    }
    assert repositories == {"google_artifact_registry_repository.functions.name"}
    for key in FUNCTIONS:
        (build,) = config.resource("google_cloudfunctions2_function", key)["build_config"]
        assert expression(build["docker_repository"]) == (
            "google_artifact_registry_repository.functions.id"
        )


def test_functions_wait_for_the_builder_grants_to_propagate(config: Config) -> None:
    waits = config.of_type("time_sleep")
    assert len(waits) == 1, "one wait for the builder's grants"
    ((name, wait),) = waits.items()
    seconds = re.fullmatch(r"(\d+)s", wait["create_duration"])
    assert seconds and int(seconds[1]) >= 60, wait["create_duration"]
    granted = set(builder_project_roles(config).values()) | {
        f"google_artifact_registry_repository_iam_member.{n}"
        for n, body in config.of_type("google_artifact_registry_repository_iam_member").items()
        if body["member"] == BUILDER
    }
    waited_for = {expression(item) for item in wait["depends_on"]}
    assert granted <= waited_for, f"the wait must follow every builder grant: {granted}"
    for key in FUNCTIONS:
        depends = {
            expression(d)
            for d in config.resource("google_cloudfunctions2_function", key)["depends_on"]
        }
        assert f"time_sleep.{name}" in depends, f"{key} must be built after the wait"


def test_time_provider_is_declared_and_pinned() -> None:
    versions = (TERRAFORM_DIR / "versions.tf").read_text()
    block = re.search(r"time\s*=\s*\{(?P<body>[^}]*)\}", versions)
    assert block, "versions.tf must declare the hashicorp/time provider"
    assert re.search(r'source\s*=\s*"hashicorp/time"', block["body"])
    assert re.search(r'version\s*=\s*"[^"]*<\s*\d+', block["body"]), "pin it with an upper bound"
