"""
The rights helper on a model with a UUID key and a `public` flag. Groups have both, which lets the
helper be tested here without depending on the apps that use it.
"""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType

from users.models import Group, Membership, Role
from users.rights import filter_rights, get_max_level, has_access
from users.tests.factories import grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects():
    return {
        "private": Group.objects.create(name="private"),
        "public": Group.objects.create(name="public", public=True),
        "shared": Group.objects.create(name="shared"),
    }


def levels(user, level=Role.GUEST):
    return dict(filter_rights(user, Group.objects.all(), level).values_list("name", "max_level"))


def test_direct_and_public_rights(user, objects):
    grant(objects["private"], Role.CONTRIBUTOR, user=user)
    assert levels(user, Role.GUEST) == {"private": 50, "public": 10}
    assert levels(user, Role.CONTRIBUTOR) == {"private": 50}
    assert levels(user, Role.ADMIN) == {}


def test_group_right_is_capped_by_membership(user, objects):
    team = Group.objects.create(name="team")
    Membership.objects.create(user=user, group=team, level=Role.GUEST)
    grant(objects["shared"], Role.ADMIN, group=team)
    assert get_max_level(user, objects["shared"]) == Role.GUEST

    Membership.objects.filter(user=user).update(level=Role.ADMIN)
    assert get_max_level(user, objects["shared"]) == Role.ADMIN


def test_best_right_wins(user, objects):
    team = Group.objects.create(name="team")
    Membership.objects.create(user=user, group=team, level=Role.ADMIN)
    grant(objects["public"], Role.CONTRIBUTOR, group=team)
    grant(objects["public"], Role.GUEST, user=user)
    assert get_max_level(user, objects["public"]) == Role.CONTRIBUTOR
    assert has_access(user, objects["public"], Role.CONTRIBUTOR)
    assert not has_access(user, objects["public"], Role.ADMIN)


def test_other_users_rights_do_not_leak(user, other_user, objects):
    grant(objects["private"], Role.ADMIN, user=other_user)
    assert "private" not in levels(user)


def test_anonymous_sees_public_only(objects):
    assert levels(AnonymousUser(), Role.GUEST) == {"public": 10}
    assert levels(AnonymousUser(), Role.CONTRIBUTOR) == {}


def test_instance_admin_sees_everything(superuser, objects):
    assert levels(superuser, Role.ADMIN) == {"private": 100, "public": 100, "shared": 100}


def test_filter_is_one_query(user, objects, django_assert_num_queries):
    team = Group.objects.create(name="team")
    Membership.objects.create(user=user, group=team, level=Role.ADMIN)
    for obj in objects.values():
        grant(obj, Role.GUEST, group=team)
    ContentType.objects.get_for_model(Group)  # warm the content type cache, as in a running server
    with django_assert_num_queries(1):
        assert len(levels(user)) == 3


def test_right_needs_user_or_group(objects, user):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        grant(objects["private"], Role.GUEST)


def test_other_members_levels_do_not_raise_a_group_right(user, other_user, objects):
    team = Group.objects.create(name="team")
    Membership.objects.create(user=user, group=team, level=Role.GUEST)
    Membership.objects.create(user=other_user, group=team, level=Role.ADMIN)
    grant(objects["shared"], Role.ADMIN, group=team)
    assert get_max_level(user, objects["shared"]) == Role.GUEST
    assert get_max_level(other_user, objects["shared"]) == Role.ADMIN


def test_a_membership_alone_gives_no_right(user, objects):
    team = Group.objects.create(name="team")
    Membership.objects.create(user=user, group=team, level=Role.ADMIN)
    grant(objects["shared"], Role.ADMIN, group=Group.objects.create(name="elsewhere"))
    assert get_max_level(user, objects["shared"]) == 0


def test_rights_filter_nested_in_another_query(user, objects):
    """Used as a subquery, the level expression follows the outer query's table aliases."""
    grant(objects["shared"], Role.CONTRIBUTOR, user=user)
    writable = filter_rights(user, Group.objects.all(), Role.CONTRIBUTOR).values("pk")
    assert set(Group.objects.filter(pk__in=writable).values_list("name", flat=True)) == {"shared"}
    readable = filter_rights(user, Group.objects.filter(pk__in=writable), Role.GUEST)
    assert set(readable.values_list("name", "max_level")) == {("shared", Role.CONTRIBUTOR)}


def test_level_sql_is_the_level_filter_rights_gives(user, other_user, objects):
    """The SQL text of hand-written statements (a task's token) gives each row the level `filter_rights` annotates."""
    from django.db import connection

    from users.rights import level_sql

    team = Group.objects.create(name="team")
    Membership.objects.create(user=user, group=team, level=Role.GUEST)
    grant(objects["shared"], Role.ADMIN, group=team)
    grant(objects["private"], Role.CONTRIBUTOR, user=user)
    grant(objects["public"], Role.ADMIN, user=other_user)
    for person in (user, other_user):
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT row.name, {level_sql(Group, '%s', 'row')} FROM users_group AS row",
                [person.pk, person.pk, person.pk],
            )
            by_sql = dict(cursor.fetchall())
        assert by_sql == dict(filter_rights(person, Group.objects.all(), 0).values_list("name", "max_level"))
    assert by_sql["public"] == Role.ADMIN and by_sql["private"] == 0
