"""
Task logs in the file storage: one file per attempt of a task, `ponos/logs/<task id>/<attempt>.log`,
so that restarting a task keeps the log of each earlier attempt readable.

The agent owns the log while the task runs (`ponos.agent.log_stream.LogWriter` copies it to the storage
every few seconds, with `write_log`'s key); the API only reads what is there, which is how a log is
followed live. `append_log` adds a line after the fact, for example the reason a dead agent's task
ended in error.

A log never grows beyond PONOS_LOG_MAX_SIZE bytes in the storage: only its end is kept, behind a
notice saying so. Reads apply the same limit, so that a log written by other means cannot make one
response huge.
"""

import io

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage

from arkindex import storage

TRUNCATION_NOTICE = b"[ponos] The beginning of this log was cut: it exceeded the log size limit.\n"


def log_key(task_id, attempt):
    return f"ponos/logs/{task_id}/{attempt}.log"


def max_size():
    return int(settings.PONOS_LOG_MAX_SIZE)


def _tail(data):
    """`data` cut to its last PONOS_LOG_MAX_SIZE bytes, with a notice when anything was cut."""
    limit = max_size()
    if len(data) <= limit:
        return data
    return TRUNCATION_NOTICE + data[-limit:]


def _store(key, data):
    """
    Replace the file at `key`. The local folder gets an atomic rename (a reader never sees half a
    log); S3 replaces an object in one PUT.
    """
    if storage.is_local():
        storage.backend().write(key, io.BytesIO(data))
        return
    if not getattr(default_storage, "file_overwrite", False) and default_storage.exists(key):
        default_storage.delete(key)
    default_storage.save(key, ContentFile(data))


def read_log(task, attempt=None):
    """
    The log of an attempt of `task` (its current one by default) as bytes: empty when the log is
    missing or zero bytes long (a task that printed nothing, or that has not started yet), and only
    its last PONOS_LOG_MAX_SIZE bytes when it is larger.
    """
    key = log_key(task.id, task.attempt if attempt is None else attempt)
    if not storage.exists(key):
        return b""
    size = storage.size(key)
    if not size:
        return b""
    limit = max_size()
    with default_storage.open(key, "rb") as log:
        if size <= limit:
            return log.read()
        log.seek(size - limit)
        return TRUNCATION_NOTICE + log.read()


def append_log(task, text):
    """Add `text` (str or bytes) at the end of the current attempt's log."""
    data = text.encode() if isinstance(text, str) else bytes(text)
    if not data:
        return
    key = log_key(task.id, task.attempt)
    current = b""
    if storage.exists(key):
        with default_storage.open(key, "rb") as log:
            current = log.read()
    _store(key, _tail(current + data))


def write_log(task, path):
    """Copy the local file at `path` as the current attempt's log, keeping only its end if too large."""
    key = log_key(task.id, task.attempt)
    with open(path, "rb") as source:
        source.seek(0, io.SEEK_END)
        size = source.tell()
        if size <= max_size():
            source.seek(0)
            if storage.is_local():
                storage.backend().write(key, source)
            else:
                if not getattr(default_storage, "file_overwrite", False) and default_storage.exists(key):
                    default_storage.delete(key)
                default_storage.save(key, File(source))
            return
        source.seek(size - max_size())
        _store(key, TRUNCATION_NOTICE + source.read())
