"""Start gcloud-tasks-emulator with its dispatcher surviving a purge.

Runs with the tasks-emulator virtualenv's own Python (it imports nothing from
this project); every argument goes unchanged to the emulator's command line.
The emulator's dispatcher thread copies a queue's task list, then submits each
task by name; a task purged (or run through RunTask) in between raises NotFound,
which ends the thread and silently stops that queue for good. Here a task that
vanished before its dispatch is skipped instead. RunTask still answers NOT_FOUND.
"""

from __future__ import annotations

from typing import Any

from gcloud_tasks_emulator.__main__ import main
from gcloud_tasks_emulator.server import QueueState
from google.api_core.exceptions import NotFound

_submit_task = QueueState.submit_task


def _submit_if_present(state: QueueState, task_name: str, force_run: bool = False) -> Any:
    """Submit the task like the emulator does; from the dispatcher, skip one that is gone."""
    try:
        return _submit_task(state, task_name, force_run)
    except NotFound:
        if force_run:
            raise
        return None


if __name__ == "__main__":
    QueueState.submit_task = _submit_if_present
    main()
