"""Exit codes of the operator commands, and the guard that maps errors onto them.

`explain` is the one place that turns what the Google libraries raise (missing
credentials, a missing project, a denied permission, an unreachable service or a
local stack that is down) into one line naming the cause and the fix.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from shared.errors import ConfigError, PipelineError

OK = 0
FAILED = 1  # a dependency failed, reconcile found an inconsistency, or the operator declined
INTERRUPTED = 130  # Ctrl-C
USAGE = 2  # bad arguments or configuration, or a write-like command not confirmed

Handler = Callable[[argparse.Namespace], int]

LOCAL_UP = "start it with `session-sync local up` (`session-sync local status` shows what is down)"
DETAIL_CHARS = 200


class UsageError(Exception):
    """The command line is wrong (or cannot be acted on as given): exit 2."""


@dataclass(frozen=True)
class ActionableError(Exception):
    """A failure the operator can fix: printed as one line, `cause; fix`, exit `code`.

    `code` is `USAGE` (2) for configuration (credentials, project, permissions,
    names) and `FAILED` (1) for a dependency that is down or unreachable.
    """

    cause: str
    fix: str
    code: int = FAILED

    def __str__(self) -> str:
        return f"{self.cause}; {self.fix}"


def guarded(command: str, handler: Handler) -> Handler:
    """Wrap a handler: `UsageError` -> message and exit 2, `PipelineError` -> message and exit 1.

    Errors `explain` recognises (credentials, project, permission, reachability,
    the local stack) print one line with the fix and exit 2 or 1. A closed stdout
    (`| head`) ends the command quietly with exit 1.
    """

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except UsageError as error:
            print(f"session-sync {command}: {error}", file=sys.stderr)
            return USAGE
        except BrokenPipeError:
            # The reader of stdout (`| head`) left: stop quietly, as other tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return FAILED
        except (KeyboardInterrupt, ConfigError):
            raise
        except Exception as error:
            problem = explain(error, local=local_mode())
            if problem is not None:
                print(f"session-sync {command}: {problem}", file=sys.stderr)
                return problem.code
            if isinstance(error, PipelineError):
                print(f"session-sync {command}: failed: {error}", file=sys.stderr)
                return FAILED
            raise

    return run


def explain(error: BaseException, *, local: bool) -> ActionableError | None:
    """The operator's view of `error` (or of an error it was raised from), or None.

    `local` says the command talks to the local stack, where an unreachable
    service means the stack is not running.
    """
    for cause in _chain(error):
        if isinstance(cause, ActionableError):
            return cause
        found = _classify(cause, local=local)
        if found is not None:
            return found
    return None


def _chain(error: BaseException) -> Iterator[BaseException]:
    """`error`, then what it was raised from (explicitly or while handling), each once."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _classify(error: BaseException, *, local: bool) -> ActionableError | None:
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth

    text = _detail(error)
    if isinstance(error, auth.DefaultCredentialsError):
        return ActionableError(
            "no Google Cloud credentials found (Application Default Credentials)",
            "run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS"
            " to the key file of an account listed in terraform's operator_members",
            USAGE,
        )
    if isinstance(error, auth.RefreshError | gexc.Unauthenticated):
        return ActionableError(
            f"the Google Cloud credentials were refused ({text})",
            "run `gcloud auth application-default login` again, or check the key file"
            " GOOGLE_APPLICATION_CREDENTIALS names",
            USAGE,
        )
    if isinstance(error, gexc.PermissionDenied | gexc.Forbidden | gexc.NotFound):
        return _denied_or_missing(error, text)
    if _unreachable(error):
        if local:
            return ActionableError(
                f"the local stack is not running or not answering ({text})", LOCAL_UP
            )
        return ActionableError(
            f"cannot reach Google Cloud ({text})",
            "check the network connection and proxy settings, then run the command again"
            " (`session-sync doctor` checks every dependency)",
        )
    return None


def _denied_or_missing(error: BaseException, text: str) -> ActionableError:
    from google.api_core import exceptions as gexc

    reason = getattr(error, "reason", None) or ""
    metadata = getattr(error, "metadata", None) or {}
    project = metadata.get("consumer", "").removeprefix("projects/") or _project()
    if reason == "SERVICE_DISABLED" or re.search(r"has not been used in project|is disabled", text):
        service = metadata.get("service") or "the API named above"
        return ActionableError(
            f"a Google Cloud API is disabled in project {project} ({text})",
            f"enable it: `gcloud services enable {service} --project={project}`"
            " (`terraform apply` in terraform/ enables every API the pipeline needs)",
            USAGE,
        )
    if reason in {"CONSUMER_INVALID", "USER_PROJECT_DENIED"} or re.search(
        r"project[^.]*\b(not found|does not exist|deleted)|permission denied on resource project"
        r"|\bnot found: project",
        text,
        re.IGNORECASE,
    ):
        return ActionableError(
            f"project {project!r} does not exist or your account cannot use it ({text})",
            "set GOOGLE_CLOUD_PROJECT to the project id (not its display name; `terraform"
            " output -raw operator_env` prints it) and check your account has access to it",
            USAGE,
        )
    if isinstance(error, gexc.NotFound):
        return ActionableError(
            f"a resource the settings name does not exist ({text})",
            "check the names in your settings against `terraform output` (or run `terraform"
            " apply`); `session-sync doctor` lists what is missing",
            USAGE,
        )
    permission = metadata.get("permission") or _permission_in(text)
    lacking = f" (it lacks {permission})" if permission else ""
    return ActionableError(
        f"permission denied: your account may not do this{lacking} ({text})",
        "add the account to operator_members in terraform/terraform.tfvars and run `terraform"
        " apply` (operators.tf grants what session-sync needs)",
        USAGE,
    )


def _unreachable(error: BaseException) -> bool:
    import requests
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth

    network = (
        gexc.ServiceUnavailable,
        gexc.DeadlineExceeded,
        gexc.RetryError,
        auth.TransportError,
        requests.ConnectionError,
        requests.Timeout,
        ConnectionError,
        TimeoutError,
    )
    return isinstance(error, network)


def _permission_in(text: str) -> str | None:
    """An IAM permission named in an error message, such as `pubsub.topics.publish`."""
    match = re.search(r"\b([a-z]+\.[a-zA-Z]+\.[a-zA-Z]+)\b", text)
    return match.group(1) if match else None


def _detail(error: BaseException) -> str:
    """The error's first line, shortened, or its class name when it has no message."""
    from google.api_core import exceptions as gexc

    if isinstance(error, gexc.GoogleAPICallError) and error.message:
        text = f"{error.code or ''} {error.message}".strip().splitlines()[0]
        return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 3] + "..."
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else type(error).__name__
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 3] + "..."


def _project() -> str:
    from shared.settings import load_settings

    try:
        return load_settings().project or "(GOOGLE_CLOUD_PROJECT unset)"
    except ConfigError:
        return "(unknown)"


# The fix printed after a configuration error about these settings.
CONFIG_FIXES = {
    "GOOGLE_CLOUD_PROJECT": "export the deployment's settings (`terraform -chdir=terraform output"
    " -raw operator_env` prints them), or PIPELINE_MODE=local for the local stack",
    "PSEUDONYMIZATION_SALT": "export the pinned salt version, as the last line of `terraform"
    " -chdir=terraform output -raw operator_env` shows",
}


def config_error_line(error: ConfigError) -> str:
    """The one line of a configuration error, with its fix when there is a known one."""
    fix = CONFIG_FIXES.get(error.setting)
    return f"session-sync: configuration error: {error}" + (f"; {fix}" if fix else "")


def local_mode() -> bool:
    """Whether the settings say local mode (False when they cannot be read)."""
    from shared.settings import load_settings

    try:
        return load_settings().is_local
    except ConfigError:
        return False
