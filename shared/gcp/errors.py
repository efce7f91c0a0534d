"""Translate Google client exceptions into the project's errors, and retry briefly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import requests
import tenacity
from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exceptions

from shared.errors import PermanentError, PipelineError, TransientError

# Errors caused by the request's content: retrying the same request cannot help.
_PERMANENT = (gexc.BadRequest, gexc.InvalidArgument, gexc.OutOfRange, gexc.MethodNotImplemented)
# 400s about the state of the system (a missing index, a queue being deleted), not the
# request: they succeed once an operator fixes that state, so they are retried.
_NOT_READY = (gexc.FailedPrecondition,)
# Python's TimeoutError is also what concurrent futures raise on a timed-out result().
_NETWORK = (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError)
# Fetching or refreshing an access token failed: the request itself was never judged.
_AUTH = (auth_exceptions.TransportError, auth_exceptions.RefreshError)

P = ParamSpec("P")
T = TypeVar("T")


def classify(error: BaseException) -> PipelineError:
    """The project's error class for a Google client (or network) exception."""
    if isinstance(error, PipelineError):
        return error
    if isinstance(error, _PERMANENT) and not isinstance(error, _NOT_READY):
        return PermanentError(f"{type(error).__name__}: {error}")
    if isinstance(error, (gexc.GoogleAPIError, *_NETWORK, *_AUTH, OSError)):
        return TransientError(f"{type(error).__name__}: {error}")
    raise error


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Re-raise Google exceptions inside the block as the project's errors."""
    try:
        yield
    except PipelineError:
        raise
    except Exception as error:  # classify() re-raises what it does not recognise
        translated_error = classify(error)
        raise type(translated_error)(f"{action}: {translated_error}") from error


def briefly_retried(function: Callable[P, T]) -> Callable[P, T]:
    """Retry a `TransientError` at most 3 attempts in all, with jittered backoff.

    The only in-process retry layer; longer outages are Cloud Tasks' job.
    """
    return tenacity.retry(
        retry=tenacity.retry_if_exception_type(TransientError),
        stop=tenacity.stop_after_attempt(3),
        wait=tenacity.wait_random_exponential(multiplier=0.1, max=1.0),
        reraise=True,
    )(function)
