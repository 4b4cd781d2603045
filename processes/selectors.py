"""
Reads of processes and worker runs that are more than a queryset: which ones a user sees, at which
level, and the lookups that answer 404 or 403 the same way everywhere.
"""

from django.db.models import Case, Exists, IntegerField, OuterRef, Q, Value, When

from documents.models import Corpus
from documents.selectors import corpus_level_subquery
from processes.models import Process, ProcessMode, WorkerRun
from users.callers import task_scope_of
from users.models import Role
from users.rights import check_level, filter_rights

# Processes without a corpus (repository imports) or personal ones belong to their creator alone.
PERSONAL_MODES = (ProcessMode.Local, ProcessMode.Repository)


def readable_worker_runs(user):
    """
    Worker runs `user` may read: their own user worker runs, and the worker runs of processes on
    corpora they can read. User worker runs are personal: nobody else sees them through the API,
    instance administrators included (they have the Django admin).
    """
    if not user.is_authenticated:
        return WorkerRun.objects.none()
    scope = task_scope_of(user)
    if scope is not None:
        # A task reads the worker runs of its own process only.
        return WorkerRun.objects.filter(process_id=scope.process_id)
    own = Q(process__mode=ProcessMode.Local, process__creator=user)
    corpora = filter_rights(user, Corpus.objects.all(), Role.GUEST).values("id")
    shared = Q(process__corpus__in=corpora) & ~Q(process__mode=ProcessMode.Local)
    return WorkerRun.objects.filter(own | shared)


def user_worker_runs(user):
    """The personal worker runs of `user` (their local process's), the latest first."""
    return WorkerRun.objects.filter(process__mode=ProcessMode.Local, process__creator=user).order_by("-created", "id")


def processes_with_level(user):
    """
    Processes `user` can see, annotated with `level`: their level on the process's corpus, or
    admin on their own processes of a personal mode. A user's local process is never listed for
    anyone else, instance administrators included.
    """
    if not user.is_authenticated:
        return Process.objects.none()
    queryset = Process.objects.filter(deleting__isnull=True)
    scope = task_scope_of(user)
    if scope is not None:
        # A task sees its own process only, with its creator's level on it.
        queryset = queryset.filter(pk=scope.process_id)
    personal = Q(mode__in=PERSONAL_MODES)
    own_level = Value(Role.ADMIN.value)
    queryset = queryset.annotate(
        level=Case(
            When(personal & Q(creator=user), then=own_level),
            When(personal, then=Value(Role.ADMIN.value if user.is_admin else 0)),
            default=corpus_level_subquery(user, "corpus_id"),
            output_field=IntegerField(),
        )
    )
    return queryset.filter(level__gte=Role.GUEST).exclude(Q(mode=ProcessMode.Local) & ~Q(creator=user))


def process_for_user(user, process_id, level=Role.GUEST, queryset=None, action="do this"):
    """
    The process `process_id` if `user` can see it, else 404; 403 when they can see it but their
    level is below `level`. `queryset` (built on `processes_with_level`) adds what the caller needs.
    """
    queryset = processes_with_level(user) if queryset is None else queryset
    process = queryset.filter(pk=process_id).first()
    check_level(getattr(process, "level", 0), level, what=f"Process {process_id}", holder="its corpus", action=action)
    return process


def with_element_list(queryset):
    """Annotate `has_element_list` on processes, for `process_elements` to skip a query."""
    through = Process.elements.through.objects.filter(process_id=OuterRef("pk"))
    return queryset.annotate(has_element_list=Exists(through))


def listable_processes(user):
    """
    The processes `user` sees in `ListProcesses`: those of the corpora they can read, their own
    personal ones, and for instance administrators the other users' repository processes too (never
    another user's local process). The same set as `processes_with_level`, but the corpora are
    one `IN (subquery)` on the readable corpora instead of a level computed for each process row,
    which PostgreSQL turns into a semi-join served by the (corpus, -created) index.
    """
    if not user.is_authenticated:
        return Process.objects.none()
    own_personal = Q(mode__in=PERSONAL_MODES, creator=user)
    if user.is_admin:
        visible = ~Q(mode=ProcessMode.Local) | Q(creator=user)
    else:
        corpora = filter_rights(user, Corpus.objects.all(), Role.GUEST).values("id")
        visible = (Q(corpus_id__in=corpora) & ~Q(mode__in=PERSONAL_MODES)) | own_personal
    return Process.objects.filter(visible, deleting__isnull=True)
