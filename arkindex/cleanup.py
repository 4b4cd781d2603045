"""
What `arkindex-server cleanup` removes: what an instance no longer needs, each app saying what is
its own (they register with `register`, this module imports none of them).

- Expired objects: each app's `Sweeper.expired(cutoff)` yields the objects older than the
  retention (exports, the logs and artifacts of old finished processes…) as `Expired` items: what
  they are, the files they hold and how to delete their rows.
- Orphaned files: the storage is walked under each app's folders (`Sweeper.folders`); a file no
  object owns any more (`Sweeper.owned(keys)` says which still are) and older than a safety margin
  (a file whose object is being created right now is left alone) goes.

Nothing linked to a dataset is touched: the tasks of dataset processes and their artifacts stay,
whatever their age (seed 002). A dry run goes through everything and deletes nothing.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from arkindex import storage

logger = logging.getLogger(__name__)

# A file younger than this is never an orphan: its object may be about to be committed.
ORPHAN_MARGIN = timedelta(hours=1)
# Keys checked against the database at once.
BATCH = 1000


@dataclass
class Expired:
    """An object past the retention: `delete_rows` removes it from the database, `keys` are its files."""

    description: str
    keys: list = field(default_factory=list)
    delete_rows: object = None


class Sweeper:
    """What one app cleans: override `expired` and/or `folders` and `owned`."""

    name = ""
    # Storage folders ("ponos/logs/") whose every file belongs to an object of this app.
    folders = ()

    def expired(self, cutoff):
        return []

    def owned(self, keys):
        """The keys among `keys` (files of `folders`) that an existing object still owns."""
        return set(keys)


# An object's id in a storage key, as the `id` group of `ObjectFilesSweeper.key_pattern`s.
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


class ObjectFilesSweeper(Sweeper):
    """Files each named after one object: `key_pattern` captures its id as `id`, `model` holds the objects."""

    key_pattern = None
    model = None

    def owned(self, keys):
        parsed = {key: match["id"] for key in keys if (match := self.key_pattern.match(key))}
        existing = self.model._base_manager.filter(pk__in=set(parsed.values())).values_list("pk", flat=True)
        existing = {str(pk) for pk in existing}
        return {key for key, pk in parsed.items() if pk in existing}


SWEEPERS = []


def register(sweeper_class):
    SWEEPERS.append(sweeper_class())
    return sweeper_class


def human_size(size):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{size} B"
        size /= 1024


@dataclass
class Summary:
    objects: int = 0
    files: int = 0
    size: int = 0
    errors: int = 0


def cleanup(*, days, dry_run=False, out=print):
    """Clean what is older than `days` days (see the module's docstring); returns a `Summary`."""
    cutoff = timezone.now() - timedelta(days=days)
    summary = Summary()
    verb = "Would delete" if dry_run else "Deleting"
    for sweeper in SWEEPERS:
        expired = list(sweeper.expired(cutoff))
        if expired:
            out(f"{sweeper.name}: {len(expired)} expired")
        for index, item in enumerate(expired, start=1):
            sizes = [_size(key) for key in item.keys]
            size = sum(filter(None, sizes))
            out(f"  {verb} {item.description} ({len(item.keys)} file(s), {human_size(size)}) [{index}/{len(expired)}]")
            summary.objects += 1
            summary.files += sum(1 for s in sizes if s is not None)
            summary.size += size
            if not dry_run:
                summary.errors += _delete(item)
    for sweeper in SWEEPERS:
        for folder in sweeper.folders:
            summary = _sweep_orphans(sweeper, folder, summary, dry_run=dry_run, out=out)
    action = "Would delete" if dry_run else "Deleted"
    out(
        f"{action} {summary.objects} expired object(s) and {summary.files} file(s), {human_size(summary.size)} "
        f"in all{f'; {summary.errors} error(s), see the log' if summary.errors else ''}."
    )
    return summary


def _size(key):
    try:
        return storage.size(key)
    except (OSError, FileNotFoundError):
        return None
    except Exception:
        # S3 answers 404 for a missing key through botocore, whatever the storage class wraps it in.
        return None


def _delete(item):
    try:
        if item.delete_rows is not None:
            with transaction.atomic():
                item.delete_rows()
        for key in item.keys:
            storage.delete(key)
    except Exception:
        logger.exception("Could not delete %s", item.description)
        return 1
    return 0


def _sweep_orphans(sweeper, folder, summary, *, dry_run, out):
    young = timezone.now() - ORPHAN_MARGIN
    orphans, size, batch = 0, 0, []

    def flush(batch):
        nonlocal orphans, size
        owned = sweeper.owned([key for key, _, _ in batch])
        for key, file_size, _ in batch:
            if key in owned:
                continue
            orphans += 1
            size += file_size
            if not dry_run:
                try:
                    storage.delete(key)
                except Exception:
                    logger.exception("Could not delete the orphaned file %s", key)
                    summary.errors += 1

    for key, file_size, modified in storage.list_files(folder):
        if modified > young:
            continue
        batch.append((key, file_size, modified))
        if len(batch) >= BATCH:
            flush(batch)
            batch = []
            out(f"  {folder}: {orphans} orphaned file(s) so far")
    if batch:
        flush(batch)
    if orphans:
        verb = "would delete" if dry_run else "deleted"
        out(f"{sweeper.name}: {orphans} orphaned file(s) in {folder}, {human_size(size)}, {verb}")
    summary.files += orphans
    summary.size += size
    return summary
