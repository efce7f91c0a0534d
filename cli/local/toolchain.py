"""The preinstalled programs the stack needs: Java 17, Google's Firestore and Pub/Sub emulators."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from cli.local.errors import StackError

GCLOUD_PLATFORM = Path("/usr/lib/google-cloud-sdk/platform")


@dataclass(frozen=True)
class Toolchain:
    """Where Java and the gcloud SDK emulators live; override a path to test a missing one.

    `java` is a command looked up on PATH, or a path when it contains a slash.
    """

    java: str = "java"
    firestore_jar: Path = GCLOUD_PLATFORM / "cloud-firestore-emulator/cloud-firestore-emulator.jar"
    pubsub_emulator: Path = GCLOUD_PLATFORM / "pubsub-emulator/bin/cloud-pubsub-emulator"

    def java_path(self) -> Path:
        """The Java executable; raises `StackError` naming what is missing."""
        if "/" in self.java:
            path = Path(self.java)
            if not (path.is_file() and os.access(path, os.X_OK)):
                raise StackError(
                    f"Java not found: {path} is not an executable file (Java 17 needed)"
                )
            return path
        found = shutil.which(self.java)
        if found is None:
            raise StackError(
                f"Java not found: no {self.java!r} on PATH (Java 17 runs the Firestore and"
                " Pub/Sub emulators)"
            )
        return Path(found)

    def java_home(self) -> Path:
        """The JDK folder of `java`, for launch scripts that read JAVA_HOME (`check()` first)."""
        return Path(shutil.which(self.java) or self.java).resolve().parent.parent

    def check(self) -> None:
        """Raise `StackError` naming the first missing program; idempotent, starts nothing."""
        self.java_path()
        for label, path in (
            ("Firestore emulator", self.firestore_jar),
            ("Pub/Sub emulator", self.pubsub_emulator),
        ):
            if not path.is_file():
                raise StackError(
                    f"{label} not found: {path} does not exist (install the gcloud SDK)"
                )
