"""
The `Ponos <token>` scheme: a running task calls the API with its own token (the agent gives it as
`ARKINDEX_TASK_TOKEN`). The request then acts as the process's creator narrowed to the task's job:
`request.user` is a copy of the creator carrying the task's `users.callers.TaskScope` (what it
reaches), `request.auth` is the task, and only the operations of `ponos.task_operations` open;
every other one is a 403 saying so.

A token is valid only while its task runs: once the task ends, a leaked token opens nothing.

Tasks call the API for every element they process, so the task, its process, the creator and the
model of its worker run are read with one statement the driver prepares (`arkindex.prepared`),
its text built once per server process, and turned into model instances with `Model.from_db`:
compiling the equivalent queryset cost more than running it, and planning the join more than
executing it.
"""

import copy
from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from arkindex.prepared import Statement
from ponos.models import Task, TaskState
from ponos.task_operations import operation_id, task_operations
from users.callers import TaskScope
from users.rights import level_sql

ACTIVE_TASK_STATES = (TaskState.Running, TaskState.Stopping)


class TaskAuthentication(authentication.BaseAuthentication):
    keyword = "Ponos"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Ponos header: send `Authorization: Ponos <task token>`.")
        try:
            token = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid task token.") from None
        task = task_by_token(token)
        if task is None:
            raise exceptions.AuthenticationFailed("Invalid task token.")
        if task.state not in ACTIVE_TASK_STATES:
            raise exceptions.AuthenticationFailed(f"This task is {task.state}: its token is valid only while it runs.")
        if not task.process.creator.is_active:
            raise exceptions.AuthenticationFailed("The creator of this task's process is inactive or deleted.")
        operation = operation_id(request)
        if operation not in task_operations(task.process.mode):
            raise exceptions.PermissionDenied(
                f"Task tokens cannot call {operation or 'this endpoint'}: a task's token only opens the "
                "operations its job needs. Call it with a user's API token instead."
            )
        # The services that act for the process's creator (`task.process.creator`) keep the creator's
        # own rights; the request's user is narrowed to the task.
        user = copy.copy(task.process.creator)
        user.task_scope = TaskScope(
            task=task,
            task_id=task.id,
            process_id=task.process_id,
            corpus_id=task.process.corpus_id,
            worker_run_id=task.worker_run_id,
            model_version_id=task.model_version_id,
            model_id=task.model_id,
            worker_run=task.worker_run if task.worker_run_id else None,
            corpus_level=task.creator_corpus_level,
        )
        return user, task

    def authenticate_header(self, request):
        return self.keyword


def _columns(model, alias):
    fields = model._meta.concrete_fields
    return [field.attname for field in fields], [f'{alias}."{field.column}"' for field in fields]


@cache
def _task_statement():
    """The statement reading a task by its token with its process and the process's creator, and its columns."""
    process_model = Task._meta.get_field("process").related_model
    user_model = get_user_model()
    run_model = Task._meta.get_field("worker_run").related_model
    version_model = run_model._meta.get_field("model_version").related_model
    parts = [
        _columns(Task, "task"),
        _columns(process_model, "process"),
        _columns(user_model, "creator"),
        _columns(run_model, "run"),
    ]
    corpus_model = process_model._meta.get_field("corpus").related_model
    sql = (
        f"SELECT {', '.join(column for _, columns in parts for column in columns)}, "
        f"model_version.model_id, {level_sql(corpus_model, 'creator.id', 'corpus')} "
        f'FROM "{Task._meta.db_table}" AS task '
        f'JOIN "{process_model._meta.db_table}" AS process ON process.id = task.process_id '
        f'JOIN "{user_model._meta.db_table}" AS creator ON creator.id = process.creator_id '
        f'LEFT JOIN "{run_model._meta.db_table}" AS run ON run.id = task.worker_run_id '
        f'LEFT JOIN "{version_model._meta.db_table}" AS model_version ON model_version.id = run.model_version_id '
        f'LEFT JOIN "{corpus_model._meta.db_table}" AS corpus ON corpus.id = process.corpus_id '
        "WHERE task.token = %(token)s"
    )
    models = []
    for model, (names, _) in zip((Task, process_model, user_model, run_model), parts, strict=True):
        fields = model._meta.concrete_fields
        # What the ORM applies to values read from the database (JSON decoding, for instance).
        converters = [
            connection.ops.get_db_converters(field.cached_col) + field.get_db_converters(connection) for field in fields
        ]
        models.append((model, names, list(zip(fields, converters, strict=True))))
    return Statement(sql), models


def task_by_token(token):
    """
    The task of a token with its process and the process's creator loaded, the model version
    and model of its worker run as `model_version_id` and `model_id`, and the creator's level on
    the process's corpus as `creator_corpus_level` (0 without one), or None.
    """
    statement, models = _task_statement()
    with statement.execute({"token": token}) as cursor:
        row = cursor.fetchone()
    if row is None:
        return None
    instances, start = [], 0
    for model, names, converters in models:
        values = []
        for value, (field, field_converters) in zip(row[start : start + len(names)], converters, strict=True):
            for converter in field_converters:
                value = converter(value, field.cached_col, connection)
            values.append(value)
        # The worker run's columns are all null for a task without one (LEFT JOIN).
        instances.append(model.from_db(connection.alias, names, values) if values[0] is not None else None)
        start += len(names)
    task, process, creator, run = instances
    process.creator = creator
    task.process = process
    if run is not None:
        run.process = process
        task.worker_run = run
    task.model_version_id = run.model_version_id if run is not None else None
    task.model_id, task.creator_corpus_level = row[start:]
    return task


class TaskAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "ponos.authentication.TaskAuthentication"
    name = "taskAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Ponos <task token>`: a running task's own credential, given to it as ARKINDEX_TASK_TOKEN.",
        }
