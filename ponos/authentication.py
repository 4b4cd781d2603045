"""
The `Ponos <token>` scheme: a running task calls the API with its own token (the agent gives it as
`ARKINDEX_TASK_TOKEN`). The request then acts as the process's creator, with `request.auth` set to
the task, and views that serve tasks narrow what it reaches to its own process: a task token never
reads another process's worker runs, tasks or artifacts.

A token is valid only while its task runs: once the task ends, a leaked token opens nothing.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from ponos.models import Task, TaskState

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
        task = Task.objects.select_related("process__creator").filter(token=token).first()
        if task is None:
            raise exceptions.AuthenticationFailed("Invalid task token.")
        if task.state not in ACTIVE_TASK_STATES:
            raise exceptions.AuthenticationFailed(f"This task is {task.state}: its token is valid only while it runs.")
        if not task.process.creator.is_active:
            raise exceptions.AuthenticationFailed("The creator of this task's process is inactive or deleted.")
        return task.process.creator, task

    def authenticate_header(self, request):
        return self.keyword


def request_task(request):
    """The task calling with its token, or None for a user."""
    return request.auth if isinstance(request.auth, Task) else None


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
