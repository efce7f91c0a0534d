"""The one error of the local stack commands."""

from __future__ import annotations


class StackError(Exception):
    """The local stack cannot do what was asked; the message names the service, path or log."""
