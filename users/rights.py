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
from django.db import connection
from django.db.models import Case, Expression, F, IntegerField, Value, When
from django.db.models.functions import Coalesce, Greatest
from rest_framework.exceptions import NotFound, PermissionDenied

from users.callers import task_scope_of
from users.models import Membership, Right, Role


def _has_field(model, name):
    return any(field.name == name for field in model._meta.get_fields())


class RightsLevel(Expression):
    """
    The best level `user_id` holds on the object whose id is `object_ref`, through a right of their own or
    one of their groups' (capped by their membership level), NULL when none: one correlated subquery.
    Written as SQL rather than built from querysets because every rights check in the API compiles it,
    and the ORM's compilation of the equivalent subquery costs more than the query itself.
    """

    output_field = IntegerField()

    def __init__(self, user_id, content_type_id, object_ref):
        super().__init__()
        self.user_id = user_id
        self.content_type_id = content_type_id
        self.object_ref = object_ref

    def get_source_expressions(self):
        return [self.object_ref]

    def set_source_expressions(self, expressions):
        (self.object_ref,) = expressions

    def as_sql(self, compiler, connection):
        object_sql, object_params = compiler.compile(self.object_ref)
        sql = _rights_level_sql("%s", "%s", object_sql)
        return sql, (self.user_id, self.user_id, self.content_type_id, *object_params, self.user_id)


def _rights_level_sql(user_sql, content_type_sql, object_sql):
    """The text of `RightsLevel`'s subquery, the user's id given as `user_sql` (three times) and the content type's."""
    quote = connection.ops.quote_name
    return (
        f"(SELECT max(CASE WHEN level_right.user_id = {user_sql} THEN level_right.level"
        " ELSE LEAST(level_right.level, level_membership.level) END)"
        f" FROM {quote(Right._meta.db_table)} level_right"
        f" LEFT JOIN {quote(Membership._meta.db_table)} level_membership"
        f" ON level_membership.group_id = level_right.group_id AND level_membership.user_id = {user_sql}"
        f" WHERE level_right.content_type_id = {content_type_sql} AND level_right.object_id = {object_sql}"
        f" AND (level_right.user_id = {user_sql} OR level_membership.id IS NOT NULL))"
    )


def level_sql(model, user_column, row_alias):
    """
    What `filter_rights` annotates as `max_level` for a person (no instance administrator, no task
    scope), as SQL text for statements written by hand: the level of the user whose id is the
    column `user_column` on the row `row_alias` of `model`'s table, 0 when it is being deleted.
    """
    # The content type by its natural key: its id may change when a database is rebuilt, not the statement's text.
    opts = model._meta
    content_type = (
        f"(SELECT id FROM {connection.ops.quote_name(ContentType._meta.db_table)}"
        f" WHERE app_label = '{opts.app_label}' AND model = '{opts.model_name}')"
    )
    rights = _rights_level_sql(user_column, content_type, f"{row_alias}.id")
    public = f"CASE WHEN {row_alias}.public THEN {Role.GUEST.value} ELSE 0 END" if _has_field(model, "public") else "0"
    level = f"GREATEST(COALESCE({rights}, 0), {public})"
    if _has_field(model, "deleting"):
        level = f"CASE WHEN {row_alias}.deleting IS NULL THEN {level} ELSE 0 END"
    return level


def _rights_subquery(user, model):
    return RightsLevel(user.pk, ContentType.objects.get_for_model(model).pk, F("pk"))


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
    queryset = queryset.annotate(max_level=max_level)
    # Every level is at least 0: asking for it (a level to read, not to filter on) needs no condition.
    return queryset.filter(max_level__gte=level) if level > 0 else queryset


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
