"""
The few statements every task runs on every element (reading a task by its token, taking an
activity, reporting one), prepared by the database driver: planning them (joins of tasks,
processes and users, a locking update in a CTE) costs PostgreSQL more than running them.

Django's cursors bind parameters on the client (psycopg's `ClientCursor`), which psycopg never
prepares. A `Statement` runs on a cursor of the same connection that binds them on the server, so
that psycopg prepares it with the extended protocol (Parse once, then Bind/Execute) from its first
use on each connection, and keeps it while the connection lives. Protocol-level statements are
what poolers follow: PgBouncer 1.21+ in transaction mode (`max_prepared_statements`) prepares them
on whichever server connection runs the next transaction. A pooler that cannot
(`DATABASE_PREPARED_STATEMENTS=false`) gets the same statements unprepared, bound on the server all
the same. The cursor is Django's wrapper around it: queries are logged and counted as any other.

A `Statement` is written once with named placeholders (`%(token)s`) and also gives the pgbench
script of the benchmarks (`:token`) and the `$n` text of an SQL-level PREPARE, to read its plans.
"""

import re
import uuid

import psycopg
from django.conf import settings
from django.db import connection, connections, models
from django.db.models import signals
from django.db.models.base import ModelState
from django.utils import timezone

PLACEHOLDER = re.compile(r"%\((\w+)\)[sb]")


class ExecutedQuery:
    """What Django's query log reads of a psycopg cursor (`_query.query`), which server-binding cursors leave unset."""

    def __init__(self, text):
        self.text = text

    @property
    def query(self):
        return self.text.encode()


class PreparingCursor(psycopg.Cursor):
    """A server-binding cursor that prepares what it runs, unless the deployment turns it off."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        if prepare is None:
            prepare = settings.DATABASE_PREPARED_STATEMENTS
        super().execute(query, params, prepare=prepare, binary=binary)
        self._query = ExecutedQuery(query)
        return self


def preparing_cursor(*, check_health=True):
    """
    A Django cursor (logged, counted, wrapped) over a `PreparingCursor` of the default connection,
    which is checked first as for Django's own cursors (CONN_HEALTH_CHECKS) unless `check_health`
    is false: a caller that runs Django's own path when its statement fails spares the `SELECT 1`.
    """
    if check_health:
        connection.close_if_health_check_failed()
    connection.ensure_connection()
    return connection._prepare_cursor(PreparingCursor(connection.connection))


class Statement:
    def __init__(self, sql):
        self.sql = sql

    def numbered(self):
        """The statement with PostgreSQL's `$n` placeholders, and the names they stand for, in order."""
        names = list(dict.fromkeys(PLACEHOLDER.findall(self.sql)))
        return PLACEHOLDER.sub(lambda match: f"${names.index(match.group(1)) + 1}", self.sql), names

    def pgbench_sql(self):
        """The statement as a pgbench script line: `%(token)s` becomes pgbench's variable `:token`."""
        return PLACEHOLDER.sub(lambda match: f":{match.group(1)}", self.sql)

    def execute(self, values, *, check_health=True):
        """Run the statement with `values` (a dict of its placeholders); returns the cursor holding its result."""
        cursor = preparing_cursor(check_health=check_health)
        cursor.execute(self.sql, values)
        return cursor


_CONSTRUCTIONS = {}


def _construction(model):
    """What `model.__init__` fills in when not given: constant defaults, and the defaults made per object."""
    if model not in _CONSTRUCTIONS:
        if signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model):
            raise ValueError(f"{model.__name__} has initialisation receivers: build its objects with its class.")
        constants, factories, relations = {}, [], {}
        for field in model._meta.concrete_fields:
            if field.is_relation:
                relations[field.name] = field.attname
            if field.has_default() and callable(field.default):
                factories.append((field.attname, field.default))
            else:
                constants[field.attname] = field.get_default()
        allowed = set(constants) | {attname for attname, _ in factories} | set(relations)
        _CONSTRUCTIONS[model] = (constants, factories, relations, allowed)
    return _CONSTRUCTIONS[model]


def new_objects(model, items, **shared):
    """
    New, unsaved instances of `model`, one per dict of `items`, with the values of `shared` in each,
    as `model(**shared, **item)` would build them (defaults filled in, a related object given by
    its field's name cached on the instance), without the per-field work of `Model.__init__`: a
    bulk operation builds fifty of them per call. Keys are field names or columns' attribute names.
    """
    constants, factories, relations, allowed = _construction(model)
    base, base_cache = dict(constants), {}
    for key, value in shared.items():
        _assign(relations, base, base_cache, key, value)
    unknown = set(shared) - allowed
    objects = []
    for item in items:
        unknown.update(item.keys() - allowed)
        values, cache = dict(base), dict(base_cache)
        for attname, factory in factories:
            if attname not in item:
                values[attname] = factory()
        for key, value in item.items():
            _assign(relations, values, cache, key, value)
        obj = model.__new__(model)
        obj.__dict__.update(values)
        obj._state = ModelState()
        if cache:
            obj._state.fields_cache = cache
        objects.append(obj)
    if unknown:
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(unknown))}.")
    return objects


def _assign(relations, values, cache, key, value):
    attname = relations.get(key)
    if attname is None:
        values[key] = value
    else:
        # A related object: its primary key in the column, the object in the instance's cache.
        values[attname] = None if value is None else value.pk
        cache[key] = value


_INSERTS = {}


# Array columns of these base types travel as the text of their value, in one text[] per column.
NUMBER_TYPES = {
    "IntegerField", "BigIntegerField", "SmallIntegerField", "PositiveIntegerField",
    "PositiveBigIntegerField", "PositiveSmallIntegerField", "FloatField",
}  # fmt: skip


def _number_array(field):
    while hasattr(field, "base_field"):
        field = field.base_field
    return field.get_internal_type() in NUMBER_TYPES


def _array_literal(value):
    """PostgreSQL's text of an array of numbers (nested lists), e.g. `{{0,0},{10,0}}`."""
    if value is None:
        return "NULL"
    if isinstance(value, list | tuple):
        return "{" + ",".join(_array_literal(item) for item in value) + "}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{value!r} is not a number: an array column's values are sent as numbers only.")
    # The number's own text, also for the driver's wrappers (psycopg's Int4 is an int).
    return int.__repr__(value) if isinstance(value, int) else float.__repr__(value)


def _insert_statement(model):
    """
    `INSERT … SELECT FROM unnest(…)` of every column of `model`, each sent as one array. unnest
    would flatten an array column's values: those (arrays of numbers, such as polygons) are sent as
    the text of each value, and cast back by the SELECT.
    """
    if model not in _INSERTS:
        quote = connection.ops.quote_name
        fields = [field for field in model._meta.concrete_fields if not field.generated]
        if model._meta.pk.get_default() is None:
            raise ValueError(f"{model.__name__}'s primary key has no default: its rows cannot be sent as arrays.")
        arrays, selected, literal_fields = [], [], set()
        for position, field in enumerate(fields):
            db_type = field.db_type(connection)
            if db_type.endswith("]"):
                if not _number_array(field):
                    raise ValueError(f"{model.__name__}.{field.name} is an array of other than numbers.")
                arrays.append(f"%({field.attname})b::text[]")
                selected.append(f"item.c{position}::{db_type}")
                literal_fields.add(field.attname)
            else:
                arrays.append(f"%({field.attname})b::{db_type}[]")
                selected.append(f"item.c{position}")
        columns = ", ".join(quote(field.column) for field in fields)
        aliases = ", ".join(f"c{position}" for position in range(len(fields)))
        sql = (
            f"INSERT INTO {quote(model._meta.db_table)} ({columns}) SELECT {', '.join(selected)} "
            f"FROM unnest({', '.join(arrays)}) AS item ({aliases})"
        )
        _INSERTS[model] = ([(field, _prepared_types(field)) for field in fields], literal_fields, Statement(sql))
    return _INSERTS[model]


# Values of these Python types are what these Django fields' own preparation sends for them
# (PostgreSQL has native UUIDs; a text, a number or an aware date goes as it is): they are taken as
# they are. Other fields, subclasses included, prepare each value themselves.
PREPARED_TYPES = {
    models.UUIDField: (uuid.UUID,),
    models.CharField: (str,),
    models.TextField: (str,),
    models.SlugField: (str,),
    models.FloatField: (float,),
    models.BooleanField: (bool,),
    models.IntegerField: (int,),
    models.BigIntegerField: (int,),
    models.SmallIntegerField: (int,),
    models.PositiveIntegerField: (int,),
    models.PositiveBigIntegerField: (int,),
    models.PositiveSmallIntegerField: (int,),
}


def _prepared_types(field):
    """The types of the values `field` sends unchanged (a foreign key's are its target's)."""
    if type(field) in (models.ForeignKey, models.OneToOneField):
        field = field.target_field
    return PREPARED_TYPES.get(type(field), ())


def _column(field, objects, wrapper, prepared_types, now):
    """The values of one column for `objects`, prepared as the field's own `get_db_prep_save` would."""
    attname = field.attname
    if type(field) is models.DateTimeField and (field.auto_now or field.auto_now_add):
        # The automatic dates of one INSERT, one time for all its rows (set on the objects, as `pre_save` does).
        for obj in objects:
            setattr(obj, attname, now)
        return [now] * len(objects)
    if not prepared_types:
        return [field.get_db_prep_save(field.pre_save(obj, add=True), wrapper) for obj in objects]
    values = []
    for obj in objects:
        value = getattr(obj, attname)
        if value is not None and type(value) not in prepared_types:
            value = field.get_db_prep_save(value, wrapper)
        values.append(value)
    return values


def insert_objects(objects):
    """
    Save new instances of one model in one prepared statement whatever their number, as
    `bulk_create` would (defaults and automatic dates filled in, the objects marked saved), each
    column sent as one array rather than one parameter per value: the statement's text does not
    depend on the number of rows, so it is prepared once per connection.
    """
    if not objects:
        return objects
    fields, literal_fields, statement = _insert_statement(type(objects[0]))
    wrapper = connections[connection.alias]  # the connection itself, not its per-thread proxy, read for every value
    now = timezone.now()
    values = {}
    for field, prepared_types in fields:
        if field.attname in literal_fields:
            # The text of the value as it is: the field's own preparation would wrap each number.
            saved = (getattr(obj, field.attname) for obj in objects)
            values[field.attname] = [None if value is None else _array_literal(value) for value in saved]
        else:
            values[field.attname] = _column(field, objects, wrapper, prepared_types, now)
    statement.execute(values).close()
    return mark_saved(objects)


def mark_saved(objects):
    """Mark new instances saved, as `save` and `bulk_create` do, once a statement of ours has inserted them."""
    for obj in objects:
        obj._state.adding = False
        obj._state.db = connection.alias
    return objects
