"""
Repository processes: importing the workers of one revision of a Git repository (seed 002,
"Repository imports").

`repository_import_start` creates the process (mode repository, no corpus, personal to its creator,
naming its repository and revision for the process API) and its single task in one transaction,
started at once: there is nothing to configure. The task
(`ponos.tasks.repository_import`, run by an agent like any task) reads what to import and the
repository's credentials with its own token (`repository_import_of`), clones the revision, and
sends back the `.arkindex.yml` it found (`repository_import_publish`), which the server checks and
imports (`workers.services.repositories.repository_import_versions`): the task needs no database, and the
rules of worker versions are applied in one place.

Version 3 of `.arkindex.yml` imports nothing: publication happens from the worker's own CI. The
process is then stopped (`process_stop`, the task moves to stopping and its agent sets it
stopped), and the task says so in its log. An invalid file is a 400 whose errors the task prints
before failing. Retrying the process recreates its one task (`process_retry`), which imports the
same revision again: versions already made for that commit are kept, not duplicated. No email is
sent when it ends (`ponos.emails`).
"""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError

from arkindex.api.exceptions import Conflict
from arkindex.rq import enqueue_on_commit
from ponos.models import Task, TaskState
from ponos.services import (
    REPOSITORY_ENV,
    REVISION_ENV,
    SCHEDULE_PROCESS,
    build_repository_import_tasks,
    default_farm,
    process_stop,
    save_tasks,
)
from processes.models import Process, ProcessMode
from users.models import Role
from users.rights import get_max_level
from workers.arkindex_yml import ArkindexYmlError
from workers.models import Repository
from workers.services.repositories import normalize_url, open_credentials, repository_import_versions

logger = logging.getLogger(__name__)

NAME_MAX_LENGTH = Process._meta.get_field("name").max_length


def import_name(repository, revision):
    name = f"Import of {repository.url}" + (f" @ {revision}" if revision else "")
    return name[:NAME_MAX_LENGTH]


def repository_import_start(*, user, repository, revision="", farm=None):
    """
    A repository process importing `revision` of `repository` (its default branch when empty),
    started: its task is created and the scheduler enqueued after the commit. The caller checked
    that `user` is a contributor on the repository. Returns the process and its tasks.
    """
    # Checked again: a `file://` repository stays importable only while such URLs are allowed.
    normalize_url(repository.url)
    with transaction.atomic():
        process = Process.objects.create(
            mode=ProcessMode.Repository,
            creator=user,
            name=import_name(repository, revision),
            repository=repository,
            revision=revision or None,
            farm=farm or default_farm(),
            started=timezone.now(),
        )
        tasks, links = build_repository_import_tasks(process, repository=repository, revision=revision, run=0)
        save_tasks(tasks, links)
        enqueue_on_commit(SCHEDULE_PROCESS, str(process.id))
    logger.info("Started repository process %s for %s @ %s", process.id, repository.url, revision or "HEAD")
    return process, tasks


@dataclass
class RepositoryImport:
    """What the task of a repository process imports."""

    task: Task
    repository: Repository
    revision: str

    @property
    def process(self):
        return self.task.process

    @property
    def credentials(self):
        return open_credentials(self.repository)


def repository_import_of(task):
    """
    The import that `task` runs: 400 for a task of another kind of process, 404 when its
    repository was deleted since.
    """
    if task.process.mode != ProcessMode.Repository or task.env.get(REPOSITORY_ENV) is None:
        raise ValidationError({"process": ["This task does not belong to a repository process: it imports nothing."]})
    repository = Repository.objects.filter(pk=task.env[REPOSITORY_ENV]).first()
    if repository is None:
        raise NotFound("The repository this process imports does not exist any more.")
    return RepositoryImport(task=task, repository=repository, revision=task.env.get(REVISION_ENV) or "")


def repository_import_publish(*, repository_import, text, commit_hash, branch=None, tag=None):
    """
    Import the `.arkindex.yml` (`text`) that the task found at `commit_hash`. 403 when the
    process's creator is no longer a contributor on the repository, 409 when the task is being
    stopped, 400 with every error of an invalid file. A version 3 file stops the process.
    Returns the `workers.services.repositories.ImportResult`.
    """
    task, repository = repository_import.task, repository_import.repository
    creator = task.process.creator
    if get_max_level(creator, repository) < Role.CONTRIBUTOR:
        raise PermissionDenied(
            f"{creator.email} is no longer a contributor on the repository {repository.url}: "
            "the import cannot create worker versions for it."
        )
    with transaction.atomic():
        # The locks a stop takes, in its order: a stop waits for the import to commit, or the other way round.
        Process.objects.select_for_update(no_key=True).filter(pk=task.process_id).values_list("pk").first()
        check_still_running(task)
        try:
            result = repository_import_versions(
                repository=repository, user=creator, text=text, commit_hash=commit_hash, branch=branch, tag=tag
            )
        except ArkindexYmlError as e:
            raise ValidationError({"yaml": e.errors}) from None
        if result.published_by_ci:
            process_stop(process=task.process)
    logger.info(
        "Repository process %s imported %d version(s) from %s @ %s (.arkindex.yml version %d)",
        task.process_id,
        sum(created for _, created in result.versions),
        repository.url,
        commit_hash,
        result.version,
    )
    return result


def check_still_running(task):
    """409 unless the task is running: one being stopped imports nothing."""
    state = Task.objects.filter(pk=task.pk).values_list("state", flat=True).first()
    if state != TaskState.Running:
        raise Conflict(f"This import task is {state}: it cannot import anything any more.", code="task_not_running")
