"""Translation of Google client exceptions into the pipeline's errors (no network)."""

from __future__ import annotations

import concurrent.futures

import pytest
import requests
from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exceptions

from shared.errors import PermanentError, PipelineError, TransientError
from shared.gcp.errors import briefly_retried, classify, translated

PERMANENT = [
    gexc.BadRequest("bad request"),
    gexc.InvalidArgument("invalid argument"),
    gexc.OutOfRange("out of range"),
    gexc.MethodNotImplemented("not implemented"),
]

TRANSIENT = [
    gexc.NotFound("table not found"),
    gexc.Conflict("conflict"),
    gexc.AlreadyExists("already exists"),
    gexc.Aborted("contention"),
    gexc.TooManyRequests("rate limited"),
    gexc.ResourceExhausted("quota"),
    gexc.InternalServerError("backend error"),
    gexc.BadGateway("bad gateway"),
    gexc.ServiceUnavailable("unavailable"),
    gexc.GatewayTimeout("gateway timeout"),
    gexc.DeadlineExceeded("deadline"),
    gexc.Forbidden("forbidden"),
    gexc.PermissionDenied("permission denied"),
    gexc.Unauthenticated("unauthenticated"),
    gexc.Unknown("unknown"),
    # A 400 about the system's state (e.g. a missing index), not about the request.
    gexc.FailedPrecondition("the query requires an index"),
    gexc.RetryError("retries exhausted", gexc.ServiceUnavailable("unavailable")),
    requests.ConnectionError("connection refused"),
    requests.Timeout("read timed out"),
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError("timed out"),
    concurrent.futures.TimeoutError(),
    OSError("network unreachable"),
    auth_exceptions.TransportError("metadata server unreachable"),
    auth_exceptions.RefreshError("token refresh failed"),
]


@pytest.mark.parametrize("error", PERMANENT, ids=lambda e: type(e).__name__)
def test_request_errors_are_permanent(error: Exception) -> None:
    classified = classify(error)

    assert type(classified) is PermanentError
    assert str(classified).startswith(f"{type(error).__name__}: ")


@pytest.mark.parametrize("error", TRANSIENT, ids=lambda e: type(e).__name__)
def test_service_and_network_errors_are_transient(error: Exception) -> None:
    classified = classify(error)

    assert type(classified) is TransientError
    assert str(classified).startswith(f"{type(error).__name__}: ")


@pytest.mark.parametrize(
    "error", [PermanentError("row", field="rep_count"), TransientError("later")], ids=repr
)
def test_pipeline_errors_pass_through_unchanged(error: PipelineError) -> None:
    assert classify(error) is error


@pytest.mark.parametrize("error", [ValueError("bug"), KeyError("bug"), TypeError("bug")])
def test_programming_errors_are_not_disguised(error: Exception) -> None:
    with pytest.raises(type(error)) as raised:
        classify(error)

    assert raised.value is error


def test_translated_names_the_action_and_keeps_the_google_error_as_cause() -> None:
    original = gexc.ServiceUnavailable("emulator down")

    with pytest.raises(TransientError) as raised, translated("read session"):
        raise original

    assert str(raised.value) == "read session: ServiceUnavailable: 503 emulator down"
    assert raised.value.__cause__ is original
    assert not isinstance(raised.value, gexc.GoogleAPIError)


def test_translated_raises_permanent_errors_as_permanent() -> None:
    with pytest.raises(PermanentError) as raised, translated("insert rows"):
        raise gexc.InvalidArgument("bad row")

    assert str(raised.value) == "insert rows: InvalidArgument: 400 bad row"


def test_translated_lets_pipeline_and_programming_errors_through() -> None:
    permanent = PermanentError("already classified")
    with pytest.raises(PermanentError) as raised, translated("any"):
        raise permanent
    assert raised.value is permanent

    with pytest.raises(ZeroDivisionError), translated("any"):
        _ = 1 / 0


def test_briefly_retried_retries_a_transient_error_three_times_in_all() -> None:
    attempts: list[int] = []

    @briefly_retried
    def always_down() -> None:
        attempts.append(1)
        raise TransientError("down")

    with pytest.raises(TransientError, match=r"^down$"):
        always_down()

    assert len(attempts) == 3


def test_briefly_retried_returns_once_a_retry_succeeds() -> None:
    attempts: list[int] = []

    @briefly_retried
    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 2:
            raise TransientError("blip")
        return "done"

    assert flaky() == "done"
    assert len(attempts) == 2


def test_briefly_retried_never_retries_a_permanent_error() -> None:
    attempts: list[int] = []

    @briefly_retried
    def invalid() -> None:
        attempts.append(1)
        raise PermanentError("bad input")

    with pytest.raises(PermanentError):
        invalid()

    assert len(attempts) == 1
