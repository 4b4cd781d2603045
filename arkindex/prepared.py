"""
Server-side prepared statements for the few statements every task runs on every element: planning
them (joins of tasks, processes and users, a locking update in a CTE) cost PostgreSQL more than
running them, and a prepared statement is planned once per database connection.

A `Statement` is written once with named placeholders (`%(token)s`) and runs three ways: prepared
(`PREPARE name AS … $1 …` on the connection's first use, then `EXECUTE name(…)`), as plain SQL
where preparing does not pay or cannot work, and as a pgbench script (`:token`) in the benchmarks.
Plain SQL is used on connections closed after each request (`CONN_MAX_AGE` 0: a statement would be
prepared for one use), and when the database settings ask for `DISABLE_SERVER_SIDE_CURSORS`
(`DATABASE_TRANSACTION_POOLING`, behind a transaction-pooling PgBouncer): there a session's
prepared statements would not follow it from one transaction to the next.

Which statements a connection holds is remembered on Django's connection wrapper, against the
driver connection it wraps: a reconnection starts with none. PREPARE is not undone by a rollback,
so a statement prepared inside a transaction that fails stays valid. When running a prepared
statement fails (a schema change altered its result, say), the connection's statements are
deallocated before the next one is prepared.
"""

import re

from django.db import DatabaseError

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


class Statement:
    def __init__(self, name, sql):
        self.name = name
        self.sql = sql
        self.parameters = list(dict.fromkeys(PLACEHOLDER.findall(sql)))
        self.prepare_sql = f"PREPARE {name} AS " + PLACEHOLDER.sub(
            lambda match: f"${self.parameters.index(match.group(1)) + 1}", sql
        )
        arguments = ", ".join(["%s"] * len(self.parameters))
        self.execute_sql = f"EXECUTE {name}({arguments})" if arguments else f"EXECUTE {name}"

    def pgbench_sql(self):
        """The statement as a pgbench script line: `%(token)s` becomes pgbench's variable `:token`."""
        return PLACEHOLDER.sub(lambda match: f":{match.group(1)}", self.sql)

    def execute(self, cursor, values):
        """
        Run the statement on a Django cursor with `values` (a dict of its placeholders), prepared
        unless the connection's settings disable it; the cursor then holds its result.
        """
        database = cursor.db
        settings = database.settings_dict
        if settings.get("DISABLE_SERVER_SIDE_CURSORS") or settings.get("CONN_MAX_AGE") == 0:
            cursor.execute(self.sql, values)
            return
        # The cursor opened the connection: `database.connection` is the one it runs on.
        prepared = getattr(database, "prepared_statements", None)
        if prepared is None or prepared.connection is not database.connection:
            prepared = database.prepared_statements = PreparedStatements(database.connection)
        if self.name not in prepared.names:
            if prepared.stale:
                cursor.execute("DEALLOCATE ALL")
                prepared.stale = False
            cursor.execute(self.prepare_sql)
            prepared.names.add(self.name)
        try:
            cursor.execute(self.execute_sql, [values[name] for name in self.parameters])
        except DatabaseError:
            prepared.names.clear()
            prepared.stale = True
            raise


class PreparedStatements:
    """The statements prepared on one driver connection."""

    def __init__(self, connection):
        self.connection = connection
        self.names = set()
        self.stale = False
