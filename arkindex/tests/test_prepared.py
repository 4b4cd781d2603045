"""Statements the driver prepares (`arkindex.prepared`): one text, run prepared or not, or by pgbench."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from arkindex.prepared import Statement

GREETING = Statement("SELECT %(word)s::text || ' ' || %(name)s::text || %(word)s::text")

pytestmark = pytest.mark.django_db


def test_pgbench_script():
    assert GREETING.pgbench_sql() == "SELECT :word::text || ' ' || :name::text || :word::text"


def run(statement, **values):
    with statement.execute(values) as cursor:
        return cursor.fetchone()[0]


def held():
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, from_sql FROM pg_prepared_statements WHERE statement LIKE '%%|| '' ''%%'")
        return cursor.fetchall()


def test_prepared_on_first_use_and_kept():
    with CaptureQueriesContext(connection) as queries:
        assert run(GREETING, word="hi", name="Ada") == "hi Adahi"
        assert run(GREETING, word="ho", name="Bob") == "ho Bobho"
    # Logged and counted as Django's own queries, one per execution.
    assert [query["sql"] for query in queries] == [GREETING.sql] * 2
    # Prepared at the protocol level, once, with the placeholders numbered once each.
    assert held() == [("SELECT $1::text || ' ' || $2::text || $1::text", False)]


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_again():
    run(GREETING, word="hi", name="Ada")
    connection.close()
    assert held() == []
    assert run(GREETING, word="hi", name="Cy") == "hi Cyhi"
    assert len(held()) == 1


def test_turned_off_it_binds_on_the_server_without_preparing(settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    assert run(GREETING, word="hi", name="Ada") == "hi Adahi"
    assert held() == []


def test_django_cursors_are_never_prepared():
    """What the ORM and raw SQL run stays bound on the client: the threshold only serves `Statement`s."""
    for _ in range(10):
        with connection.cursor() as cursor:
            cursor.execute("SELECT %s::text || ' ' || %s::text", ["a", "b"])
    assert held() == []
