"""Publish `SessionCompleted` when a session's status becomes `completed`; ignore all else."""

from __future__ import annotations

from shared.contract import SessionCompleted
from shared.errors import PermanentError
from shared.logging import get_logger
from shared.model import COMPLETED
from shared.ports import Publisher
from trigger.events import decode_document_event

log = get_logger("trigger")


def handle_session_written(
    event_id: str, data: bytes | str, publisher: Publisher
) -> SessionCompleted | None:
    """Return the message published for this write, or None when there is nothing to do.

    Publishes only on the transition (old status not `completed`, new status
    `completed`); deletes and every other write are ignored. An undecodable
    payload is logged and dropped (retrying cannot fix it). Raises
    `TransientError` when publishing fails, so the platform redelivers the event.
    Never reads or writes Firestore.
    """
    try:
        write = decode_document_event(data)
    except PermanentError as error:
        log.error("event_undecodable", event_id=event_id, error=str(error))
        return None
    if write.key is None or write.old_status == COMPLETED or write.new_status != COMPLETED:
        return None
    message = SessionCompleted(write.key.user_id, write.key.session_id, event_id, "trigger")
    publisher.publish([message])
    log.info("completion_published", event_id=event_id, session_id=message.session_id)
    return message
