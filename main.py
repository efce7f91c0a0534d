"""Entry points of the three Cloud Run functions, served from one source archive.

The one composition root of a function's process: it reads the settings,
configures logging, and builds the component named by FUNCTION_TARGET at
import, so a missing or unsafe setting stops the instance at start-up; other
components' heavy modules are never imported. `install` serves a component
built elsewhere (tests build one with fakes through the same bootstraps).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import functions_framework

from shared.logging import configure_logging
from shared.settings import Settings, load_settings

Component = Callable[..., Any]


def _build_trigger(settings: Settings) -> Component:
    from trigger.bootstrap import build_trigger

    return build_trigger(settings)


def _build_sync_worker(settings: Settings) -> Component:
    from sync_worker.bootstrap import build_push_endpoint

    return build_push_endpoint(settings)


def _build_retry_worker(settings: Settings) -> Component:
    from retry_worker.bootstrap import build_task_endpoint

    return build_task_endpoint(settings)


BUILDERS: dict[str, Callable[[Settings], Component]] = {
    "on_session_written": _build_trigger,
    "sync_worker_push": _build_sync_worker,
    "retry_worker_task": _build_retry_worker,
}
_components: dict[str, Component] = {}


def component(target: str) -> Component:
    """The built handler of one entry point (built once per process)."""
    if target not in _components:
        settings = load_settings()
        configure_logging(settings.log_level)
        _components[target] = BUILDERS[target](settings)
    return _components[target]


def install(target: str, built: Component) -> None:
    """Serve `built` as the entry point `target` from now on."""
    if target not in BUILDERS:
        raise KeyError(f"no entry point {target!r}; entry points: {', '.join(BUILDERS)}")
    _components[target] = built


@functions_framework.cloud_event
def on_session_written(cloud_event: Any) -> None:
    """Firestore `document.v1.written` on users/{userId}/sessions/{sessionId}."""
    component("on_session_written")(cloud_event)


@functions_framework.http
def sync_worker_push(request: Any) -> Any:
    """Pub/Sub push subscription target."""
    return component("sync_worker_push")(request)


@functions_framework.http
def retry_worker_task(request: Any) -> Any:
    """Cloud Tasks HTTP target, and the scheduled `/redrive` and `/reconcile` jobs."""
    return component("retry_worker_task")(request)


_target = load_settings().function_target
if _target in BUILDERS:
    component(_target)
