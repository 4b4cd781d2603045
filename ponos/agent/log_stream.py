"""
The log of a running task, as the agent writes it: the command writes into a local file (the
executor hands it `LogWriter.file`), and the file is copied to the storage every few seconds, so
that the task's log can be followed through the API while it runs, and once more at the end.

A log larger than PONOS_LOG_MAX_SIZE keeps its last part only: a runaway command fills neither the
agent's disk nor the storage.
"""

import os
import tempfile

from django.conf import settings

from ponos.logs import TRUNCATION_NOTICE, write_log


class LogWriter:
    def __init__(self, task):
        self.task = task
        descriptor, self.path = tempfile.mkstemp(prefix=f"ponos-log-{task.id}-", suffix=".log")
        os.close(descriptor)
        # Append mode: the command and the agent's own notes never overwrite each other.
        self.file = open(self.path, "ab", buffering=0)
        self.flush()

    def write(self, text):
        if text:
            self.file.write(text.encode() if isinstance(text, str) else text)

    def limit_size(self):
        """Keep the local file within twice the limit, so that a runaway command cannot fill the disk."""
        limit = settings.PONOS_LOG_MAX_SIZE
        if os.path.getsize(self.path) <= 2 * limit:
            return
        with open(self.path, "r+b") as log:
            log.seek(-limit, os.SEEK_END)
            tail = log.read()
            log.seek(0)
            log.write(TRUNCATION_NOTICE + tail)
            log.truncate()

    def flush(self):
        """Copy the log as it is now to the storage (only its end when too large, see `ponos.logs`)."""
        self.limit_size()
        write_log(self.task, self.path)

    def close(self):
        self.flush()
        self.file.close()
        os.unlink(self.path)
