"""A real Firestore client that counts the batch reads and write batches it starts."""

from __future__ import annotations

from typing import Any

from google.cloud import firestore


class CountingClient(firestore.Client):
    """The real Firestore client, counting the batch reads and write batches it starts."""

    def __init__(self, project: str, database: str) -> None:
        super().__init__(project=project, database=database)
        self.batch_gets: list[int] = []
        self.write_batches = 0

    def get_all(self, references: Any, *args: Any, **kwargs: Any) -> Any:
        references = list(references)
        self.batch_gets.append(len(references))
        return super().get_all(references, *args, **kwargs)

    def batch(self) -> Any:
        self.write_batches += 1
        return super().batch()
