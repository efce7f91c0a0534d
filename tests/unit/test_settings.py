"""Settings: defaults, validation naming the setting, and cloud-mode safety rules."""

from __future__ import annotations

import pytest

from shared.errors import ConfigError
from shared.settings import ENV_NAMES, load_settings


def test_local_defaults_point_at_the_local_stack() -> None:
    settings = load_settings({"PIPELINE_MODE": "local"})
    assert settings.project == "session-sync-local"
    assert settings.firestore_emulator_host == "127.0.0.1:8510"
    assert settings.table_id == "session-sync-local.analytics.sessions"
    assert settings.max_retries == 10


def test_cloud_mode_is_the_default_and_uses_no_emulator() -> None:
    settings = load_settings({"GOOGLE_CLOUD_PROJECT": "prod"})
    assert settings.mode == "cloud"
    assert settings.firestore_emulator_host is None
    assert settings.latest_view_id == "prod.analytics.sessions_latest"


def test_port_overrides_move_emulator_hosts() -> None:
    settings = load_settings({"PIPELINE_MODE": "local", "LOCAL_PUBSUB_PORT": "9999"})
    assert settings.pubsub_emulator_host == "127.0.0.1:9999"


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"PIPELINE_MODE": "staging"}, "PIPELINE_MODE"),
        ({"PIPELINE_MODE": "local", "BATCH_MAX_ROWS": "0"}, "BATCH_MAX_ROWS"),
        ({"PIPELINE_MODE": "local", "BATCH_WINDOW_MS": "soon"}, "BATCH_WINDOW_MS"),
        ({"PIPELINE_MODE": "local", "BQ_TIMEOUT_SECONDS": "abc"}, "BQ_TIMEOUT_SECONDS"),
        ({"PIPELINE_MODE": "local", "LOCAL_FIRESTORE_PORT": "70000"}, "LOCAL_FIRESTORE_PORT"),
        ({"PIPELINE_MODE": "local", "AUTH_DISABLED": "maybe"}, "AUTH_DISABLED"),
        ({"PIPELINE_MODE": "cloud", "AUTH_DISABLED": "true"}, "AUTH_DISABLED"),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(env)
    assert raised.value.setting == setting


def test_local_mode_may_disable_auth() -> None:
    assert load_settings({"PIPELINE_MODE": "local", "AUTH_DISABLED": "true"}).auth_disabled


def test_cloud_mode_needs_a_project_where_one_is_used() -> None:
    settings = load_settings({})
    with pytest.raises(ConfigError) as raised:
        settings.require_project()
    assert raised.value.setting == "GOOGLE_CLOUD_PROJECT"


def test_every_setting_read_is_listed() -> None:
    import inspect

    import shared.settings as module

    source = inspect.getsource(module.load_settings)
    for name in ENV_NAMES:
        if not name.startswith("LOCAL_"):
            assert f'"{name}"' in source, name


def test_default_mode_applies_only_when_pipeline_mode_is_unset() -> None:
    assert load_settings({}, default_mode="local").is_local
    assert not load_settings({"PIPELINE_MODE": "cloud"}, default_mode="local").is_local
