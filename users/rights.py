"""
Filtering by access level, written once for every kind of object that carries rights.

`filter_rights(user, queryset, level)` keeps the objects on which `user` holds at least `level`
and annotates each with `max_level`, in one SQL query whatever the number of objects: a
correlated subquery takes the best of the user's own rights and of their groups' rights.
Objects with a `public` flag are readable by everyone at the guest level.
"""

from django.contrib.contenttypes.models import ContentType
from django.db.models import Case, F, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, Greatest, Least

from users.models import Right, Role


def _is_public_model(model):
    return any(field.name == "public" for field in model._meta.get_fields())


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


def filter_rights(user, queryset, level=Role.GUEST):
    """Objects of `queryset` on which `user` has at least `level`, annotated with `max_level`."""
    model = queryset.model
    if user.is_authenticated and user.is_admin:
        return queryset.annotate(max_level=Value(Role.ADMIN.value, output_field=IntegerField()))

    public_level = (
        Case(When(public=True, then=Value(Role.GUEST.value)), default=Value(0), output_field=IntegerField())
        if _is_public_model(model)
        else Value(0, output_field=IntegerField())
    )

    if user.is_authenticated:
        max_level = Greatest(Coalesce(_rights_subquery(user, model), Value(0)), public_level)
    else:
        max_level = public_level
    return queryset.annotate(max_level=max_level).filter(max_level__gte=level)


def get_max_level(user, obj):
    """The access level of `user` on one object (0 when none)."""
    if user.is_authenticated and user.is_admin:
        return Role.ADMIN.value
    annotated = filter_rights(user, type(obj).objects.filter(pk=obj.pk), level=0).values_list("max_level", flat=True)
    return next(iter(annotated), 0) or 0


def has_access(user, obj, level):
    return get_max_level(user, obj) >= level
