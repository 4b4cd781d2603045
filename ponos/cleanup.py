"""
What `cleanup` removes of the scheduler (`arkindex.cleanup`): the logs and artifacts of processes
that ended before the retention, but of dataset processes (their artifacts are datasets' data,
seed 002), and the files of tasks and artifacts that no longer exist.
"""

import re
import uuid

from django.utils import timezone

from arkindex.cleanup import Expired, Sweeper, register
from ponos.logs import log_key
from ponos.models import Artifact, Task
from processes.models import Process, ProcessMode

LOG_KEY = re.compile(r"^ponos/logs/(?P<task>[0-9a-f-]{36})/\d+\.log$")
ARTIFACT_KEY = re.compile(r"^ponos/artifacts/(?P<task>[0-9a-f-]{36})/(?P<path>.+)$")


@register
class TaskFilesSweeper(Sweeper):
    name = "Logs and artifacts"
    folders = ("ponos/logs/", "ponos/artifacts/")

    def expired(self, cutoff):
        processes = (
            Process.objects.filter(finished__lt=cutoff, files_cleaned__isnull=True)
            .exclude(mode=ProcessMode.Dataset)
            .order_by("finished")
        )
        for process in processes.iterator():
            tasks = Task.objects.filter(process=process).values_list("id", "attempt")
            keys = [log_key(task_id, attempt) for task_id, last in tasks for attempt in range(last + 1)]
            keys += [artifact.storage_key for artifact in Artifact.objects.filter(task__process=process)]

            def delete_rows(process=process):
                Artifact.objects.filter(task__process=process).delete()
                Process.objects.filter(pk=process.pk).update(files_cleaned=timezone.now())

            yield Expired(
                f"the logs and artifacts of process {process.name or process.id} (ended {process.finished:%Y-%m-%d})",
                keys,
                delete_rows,
            )

    def owned(self, keys):
        logs, artifacts = {}, {}
        for key in keys:
            if match := LOG_KEY.match(key):
                logs[key] = match["task"]
            elif match := ARTIFACT_KEY.match(key):
                artifacts[key] = (match["task"], match["path"])
        tasks = {
            str(task_id) for task_id in Task.objects.filter(id__in=_uuids(logs.values())).values_list("id", flat=True)
        }
        existing = {
            (str(task_id), path)
            for task_id, path in Artifact.objects.filter(
                task_id__in=_uuids(task for task, _ in artifacts.values())
            ).values_list("task_id", "path")
        }
        return {key for key, task in logs.items() if task in tasks} | {
            key for key, pair in artifacts.items() if pair in existing
        }


def _uuids(values):
    found = set()
    for value in values:
        try:
            found.add(uuid.UUID(value))
        except ValueError:
            pass
    return found
