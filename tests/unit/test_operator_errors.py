"""`explain` and the command guard: Google's errors as one line with the cause and the fix."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.auth import exceptions as auth

from cli import exits
from cli.bootstrap import OperatorPorts
from cli.console import Console
from cli.failures_cmd import list_failures
from shared.errors import TransientError
from shared.gcp.errors import translated
from shared.gcp.firestore_failures import FirestoreFailureStore
from tests.unit.fakes import FakePublisher, FakeRows, FakeSessions, FakeSink


def raised_inside_adapter(error: Exception) -> Exception:
    """What an adapter raises for `error`: the project's error with the Google one as its
    cause, or `error` itself when adapters do not translate it (missing credentials)."""
    try:
        with translated("list failure records"):
            raise error
    except Exception as raised:
        return raised
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("error", "code", "needle"),
    [
        (auth.DefaultCredentialsError("not found"), 2, "gcloud auth application-default login"),
        (auth.RefreshError("invalid_grant: reauth"), 2, "credentials were refused"),
        (gexc.Unauthenticated("bad token"), 2, "credentials were refused"),
        (gexc.PermissionDenied("Missing or insufficient permissions."), 2, "operator_members"),
        (gexc.Forbidden("Access Denied: bigquery.jobs.create"), 2, "lacks bigquery.jobs.create"),
        (gexc.NotFound("Not found: Project p"), 2, "GOOGLE_CLOUD_PROJECT"),
        (gexc.NotFound("Resource not found (resource=session-completed)."), 2, "terraform"),
        (gexc.ServiceUnavailable("503 unavailable"), 1, "cannot reach Google Cloud"),
        (gexc.DeadlineExceeded("deadline"), 1, "cannot reach Google Cloud"),
        (auth.TransportError("DNS failure"), 1, "cannot reach Google Cloud"),
        (ConnectionRefusedError(111, "Connection refused"), 1, "cannot reach Google Cloud"),
    ],
)
def test_each_kind_of_google_error_gets_its_code_and_fix(
    error: Exception, code: int, needle: str
) -> None:
    for seen in (error, raised_inside_adapter(error)):
        problem = exits.explain(seen, local=False)
        assert problem is not None
        assert problem.code == code
        assert needle in str(problem)
        assert "\n" not in str(problem)


def test_on_the_local_stack_an_unreachable_service_means_the_stack_is_down() -> None:
    error = gexc.ServiceUnavailable("failed to connect to all addresses; Connection refused")

    problem = exits.explain(raised_inside_adapter(error), local=True)

    assert problem is not None
    assert problem.code == 1
    assert "`session-sync local up`" in str(problem)


def test_errors_of_other_kinds_are_not_explained() -> None:
    assert exits.explain(TransientError("insert failed: row stopped"), local=False) is None
    assert exits.explain(ValueError("a bug"), local=False) is None


class RefusingFirestore:
    """A Firestore client whose every query is refused with `error` (the edge of the adapter)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def collection(self, _name: str) -> RefusingFirestore:
        return self

    def document(self, _name: str) -> RefusingFirestore:
        return self

    def where(self, **_: Any) -> RefusingFirestore:
        return self

    def order_by(self, *_: Any, **__: Any) -> RefusingFirestore:
        return self

    def limit(self, _count: int) -> RefusingFirestore:
        return self

    def stream(self, **_: Any) -> Any:
        raise self.error


def operator_ports(error: Exception) -> OperatorPorts:
    return OperatorPorts(
        sessions=FakeSessions(),
        failures=FirestoreFailureStore(RefusingFirestore(error)),  # type: ignore[arg-type]
        publisher=FakePublisher(),
        rows=FakeRows(FakeSink()),
        dead_letters=None,  # type: ignore[arg-type]
        pseudonymizer=None,
        topic="projects/p/topics/t",
        hold_subscription="projects/p/subscriptions/h",
    )


@pytest.mark.parametrize(
    ("error", "code", "needle"),
    [
        (gexc.PermissionDenied("Missing or insufficient permissions."), 2, "permission denied"),
        (gexc.NotFound("The database (default) does not exist for project p"), 2, "project"),
        (gexc.ServiceUnavailable("The service is currently unavailable."), 1, "cannot reach"),
    ],
)
def test_the_guard_prints_one_line_for_a_refused_command(
    error: Exception,
    code: int,
    needle: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIPELINE_MODE", "cloud")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")

    def handler(_: argparse.Namespace) -> int:
        return list_failures(operator_ports(error), Console())

    assert exits.guarded("failures list", handler)(argparse.Namespace()) == code
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("session-sync failures list: ")
    assert needle in line


def test_the_guard_still_lets_unknown_errors_through() -> None:
    def handler(_: argparse.Namespace) -> int:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        exits.guarded("x", handler)(argparse.Namespace())
