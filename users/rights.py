"""
Filtering by access level, written once for every kind of object that carries rights.

`filter_rights(user, queryset, level)` keeps the objects on which `user` holds at least `level`
and annotates each with `max_level`, in one SQL query whatever the number of objects: a
correlated subquery takes the best of the user's own rights and of their groups' rights.
Objects with a `public` flag are readable by everyone at the guest level; objects with a
`deleting` date (a deletion asked, its job not done yet) are out of everyone's reach.

When a task calls (`users.callers`), its creator's rights are narrowed to the task's job: a model
carrying rights says what a task reaches with a `task_reach(scope)` static method, a condition on
its rows that may use `rights_level`, the creator's own level; a model without one is out of reach
of every task.

`check_level` is the one answer to "may this caller do this": 404 when the object is hidden (the
same answer as when it does not exist), 403 when it is visible but the level is too low.
"""

from django.contrib.contenttypes.models import ContentType
from django.db.models import Case, F, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, Greatest, Least
from rest_framework.exceptions import NotFound, PermissionDenied

from users.callers import task_scope_of
from users.models import Right, Role


def _has_field(model, name):
    return any(field.name == name for field in model._meta.get_fields())


def _rights_subquery(user, model):
    effective_level = Case(
        When(user=user, then=F("level")),
        default=Least(F("level"), F("group__memberships__level")),
        output_field=IntegerField(),
    )
    return Subquery(
        Right.objects.filter(
            content_type=ContentType.objects.get_for_model(model),
            object_id=OuterRef("pk"),
        )
        .filter(Q(user=user) | Q(group__memberships__user=user))
        .annotate(effective_level=effective_level)
        .order_by("-effective_level")
        .values("effective_level")[:1],
        output_field=IntegerField(),
    )


def _level_expression(user, model):
    """The level of `user` on each row of `model`, as an SQL expression."""
    if user.is_authenticated and user.is_admin:
        return Value(Role.ADMIN.value, output_field=IntegerField())

    public_level = (
        Case(When(public=True, then=Value(Role.GUEST.value)), default=Value(0), output_field=IntegerField())
        if _has_field(model, "public")
        else Value(0, output_field=IntegerField())
    )
    if user.is_authenticated:
        return Greatest(Coalesce(_rights_subquery(user, model), Value(0)), public_level)
    return public_level


def filter_rights(user, queryset, level=Role.GUEST):
    """Objects of `queryset` on which `user` has at least `level`, annotated with `max_level`."""
    model = queryset.model
    if _has_field(model, "deleting"):
        # An object whose deletion was asked is gone for everyone while its job runs.
        queryset = queryset.filter(deleting__isnull=True)
    max_level = _level_expression(user, model)
    scope = task_scope_of(user)
    if scope is not None:
        task_reach = getattr(model, "task_reach", None)
        if task_reach is None:
            max_level = Value(0, output_field=IntegerField())
        else:
            queryset = queryset.annotate(rights_level=max_level)
            max_level = Case(
                When(task_reach(scope), then=F("rights_level")), default=Value(0), output_field=IntegerField()
            )
    return queryset.annotate(max_level=max_level).filter(max_level__gte=level)


def get_max_level(user, obj):
    """The access level of `user` on one object (0 when none)."""
    if user.is_authenticated and user.is_admin:
        return Role.ADMIN.value
    annotated = filter_rights(user, type(obj).objects.filter(pk=obj.pk), level=0).values_list("max_level", flat=True)
    return next(iter(annotated), 0) or 0


def has_access(user, obj, level):
    return get_max_level(user, obj) >= level


def check_level(level, needed, *, what, holder, action):
    """
    The one access check of a single object. Below the guest level the object is hidden: a 404
    saying "`what` not found", the same answer as for an object that does not exist. Visible but
    below `needed`: a 403 saying which level on `holder` (the object carrying the rights: "the
    corpus", "the model"…) `action` needs.
    """
    if (level or 0) < Role.GUEST:
        raise NotFound(f"{what} not found, or you have no access to it.")
    if level < needed:
        raise PermissionDenied(
            f"You need {Role(needed).label.lower()} access to {holder} to {action}; ask one of its administrators."
        )
