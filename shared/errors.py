"""The pipeline's error classes: every failure is either permanent or transient."""

from __future__ import annotations


class PipelineError(Exception):
    """Base class of the errors that handlers catch and classify."""


class PermanentError(PipelineError):
    """The input can never succeed as it is: record it as `invalid`, never retry.

    `field` names the offending field (a document path such as
    `formFeedback.overallScore`, or a message field) when one is known.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class TransientError(PipelineError):
    """A dependency failed in a way that may succeed later: retry with backoff."""


class ConfigError(Exception):
    """A setting is missing or unsafe; the process must not start."""

    def __init__(self, setting: str, message: str) -> None:
        self.setting = setting
        super().__init__(f"{setting}: {message}")
