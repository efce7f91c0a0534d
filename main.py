"""Entry points of the three Cloud Run functions, served from one source archive.

The instance builds the component named by FUNCTION_TARGET at import, so a
missing or unsafe setting stops it at start-up; other components' heavy
modules are never imported.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import functions_framework

from shared.settings import Settings, load_settings


def _build_trigger(settings: Settings) -> Callable[..., Any]:
    from trigger.bootstrap import build_trigger

    return build_trigger(settings)


def _build_sync_worker(settings: Settings) -> Callable[..., Any]:
    from sync_worker.bootstrap import build_push_endpoint

    return build_push_endpoint(settings)


def _build_retry_worker(settings: Settings) -> Callable[..., Any]:
    from retry_worker.bootstrap import build_task_endpoint

    return build_task_endpoint(settings)


BUILDERS: dict[str, Callable[[Settings], Callable[..., Any]]] = {
    "on_session_written": _build_trigger,
    "sync_worker_push": _build_sync_worker,
    "retry_worker_task": _build_retry_worker,
}


@cache
def component(target: str) -> Callable[..., Any]:
    """The built handler of one entry point (built once per process)."""
    return BUILDERS[target](load_settings())


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
    """Cloud Tasks HTTP target."""
    return component("retry_worker_task")(request)


_target = load_settings().function_target
if _target in BUILDERS:
    component(_target)
