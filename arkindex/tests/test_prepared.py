"""Prepared statements (`arkindex.prepared`): one text, run prepared, plain, or by pgbench."""

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from arkindex.prepared import Statement

GREETING = Statement("test_greeting", "SELECT %(word)s::text || ' ' || %(name)s::text || %(word)s::text")


def test_placeholders_are_numbered_once_each():
    assert GREETING.parameters == ["word", "name"]
    assert GREETING.prepare_sql == "PREPARE test_greeting AS SELECT $1::text || ' ' || $2::text || $1::text"
    assert GREETING.execute_sql == "EXECUTE test_greeting(%s, %s)"
    assert GREETING.pgbench_sql() == "SELECT :word::text || ' ' || :name::text || :word::text"
    assert Statement("test_constant", "SELECT 1").execute_sql == "EXECUTE test_constant"


def run(statement, **values):
    with connection.cursor() as cursor:
        statement.execute(cursor, values)
        return cursor.fetchone()[0]


def kinds(queries):
    return [query["sql"].split()[0] for query in queries]


@pytest.fixture
def persistent(monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)


@pytest.mark.django_db(transaction=True)
def test_prepared_on_first_use_of_each_connection(persistent):
    connection.close()
    with CaptureQueriesContext(connection) as queries:
        assert run(GREETING, word="hi", name="Ada") == "hi Adahi"
        assert run(GREETING, word="ho", name="Bob") == "ho Bobho"
    assert kinds(queries) == ["PREPARE", "EXECUTE", "EXECUTE"]
    connection.close()
    with CaptureQueriesContext(connection) as queries:
        assert run(GREETING, word="hi", name="Cy") == "hi Cyhi"
    assert kinds(queries) == ["PREPARE", "EXECUTE"]


@pytest.mark.django_db(transaction=True)
def test_a_failed_execution_deallocates_before_preparing_again(persistent):
    connection.close()
    run(GREETING, word="hi", name="Ada")
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE test_greeting")
    with pytest.raises(DatabaseError, match="does not exist"):
        run(GREETING, word="hi", name="Ada")
    with CaptureQueriesContext(connection) as queries:
        assert run(GREETING, word="hi", name="Ada") == "hi Adahi"
    assert kinds(queries) == ["DEALLOCATE", "PREPARE", "EXECUTE"]


@pytest.mark.django_db
def test_a_statement_prepared_in_a_rolled_back_transaction_stays(persistent):
    """The test's transaction is rolled back at its end; PREPARE is not, and the tracking agrees."""
    run(GREETING, word="a", name="b")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = 'test_greeting'")
        assert cursor.fetchone()[0] == 1


@pytest.mark.django_db
@pytest.mark.parametrize("setting,value", [("CONN_MAX_AGE", 0), ("DISABLE_SERVER_SIDE_CURSORS", True)])
def test_plain_sql_where_preparing_does_not_pay_or_work(monkeypatch, setting, value):
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    monkeypatch.setitem(connection.settings_dict, setting, value)
    with CaptureQueriesContext(connection) as queries:
        assert run(GREETING, word="hi", name="Ada") == "hi Adahi"
    assert kinds(queries) == ["SELECT"]
