"""Statements for the hottest writes, built once from the models' own metadata and run in one round trip.

Django compiles every query anew, which costs more than PostgreSQL's work for a small insert; on the path that
answers a 202 (job, its first timeline entry, its audit entry) that compilation dominated. The SQL here is
generated from `Model._meta` (columns, and each field's own conversion to database values), so it follows the
models; only the shape of the statement is written by hand.
"""
import hashlib
import json
import re
import uuid
from datetime import datetime
from functools import lru_cache

from django.conf import settings
from django.db import connection
from django.db import models as db_models
from django.db.models import JSONField
from django.db.models.fields import AutoFieldMixin

_PLACEHOLDER = re.compile(r"%[s%]")


@lru_cache(maxsize=None)
def _prepare_sql(sql):
    """(statement name, `PREPARE name AS ...` with $1.. for the %s placeholders, `EXECUTE name (%s, ...)`)."""
    count = 0

    def number(match):
        nonlocal count
        if match.group() == "%%":
            return "%"
        count += 1
        return f"${count}"

    name = "maracker_" + hashlib.sha1(sql.encode()).hexdigest()[:20]
    body = _PLACEHOLDER.sub(number, sql)
    run = f"EXECUTE {name}" + (f" ({', '.join(['%s'] * count)})" if count else "")
    return name, f"PREPARE {name} AS {body}", run


def execute(cursor, sql, params=()):
    """Run one of these statements as a server-side prepared statement of the connection's session.

    PostgreSQL parses and plans a statement on every plain execution; for these multi-table statements that
    was half of the database's work per request (psycopg2 has no protocol-level prepared statements, so the
    SQL `PREPARE`/`EXECUTE` pair is used). A statement is prepared the first time a connection runs it; a
    prepared statement outlives a rolled-back transaction, and a new connection starts with none. Set
    DATABASE_PREPARED_STATEMENTS=false behind a pooler in transaction mode (PgBouncer), where a session's
    prepared statements do not follow the client.
    """
    if not settings.DATABASE_PREPARED_STATEMENTS:
        cursor.execute(sql, params)
        return cursor
    name, prepare, run = _prepare_sql(sql)
    raw = connection.connection
    state = getattr(connection, "_prepared_statements", None)
    if state is None or state[0] is not raw:
        state = connection._prepared_statements = (raw, set())
    if name not in state[1]:
        cursor.execute(prepare)
        state[1].add(name)
    cursor.execute(run, params)
    return cursor


def _fields(model):
    return list(model._meta.concrete_fields)


def _insert_fields(model):
    """The columns an insert names: all but a serial primary key, which the database numbers."""
    return [field for field in _fields(model) if not (field.primary_key and isinstance(field, AutoFieldMixin))]


@lru_cache(maxsize=None)
def _insert_sql(models):
    """`WITH m0 AS (INSERT ...), m1 AS (INSERT ...) INSERT ...`: rows of several models in one statement.

    PostgreSQL runs the parts together and checks foreign keys at the end of the statement, so a child may
    name a parent inserted beside it.
    """
    parts = []
    for model in models:
        columns = ", ".join(connection.ops.quote_name(field.column) for field in _insert_fields(model))
        placeholders = ", ".join(["%s"] * len(_insert_fields(model)))
        parts.append(f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) "
                     f"VALUES ({placeholders})")
    if len(parts) == 1:
        return parts[0]
    ctes = ", ".join(f"m{index} AS ({part})" for index, part in enumerate(parts[:-1]))
    return f"WITH {ctes} {parts[-1]}"


def insert_together(*objects):
    """Insert new model instances in one statement. A serial primary key is left to the database and not read
    back: use this for rows whose own id the caller does not need (UUID keys are set in Python)."""
    with connection.cursor() as cursor:
        execute(cursor, _insert_sql(tuple(type(obj) for obj in objects)), _insert_params(objects))
    _mark_saved(objects)
    return objects


def _insert_params(objects, computed=None):
    """The values of the columns the inserts of `objects` send as parameters, in order: every insert column but
    those `computed` gives as SQL without a `%s` of its own."""
    params = []
    for index, obj in enumerate(objects):
        for field in _insert_fields(type(obj)):
            expression = computed.get((index, field.attname)) if computed else None
            if expression is not None and "%s" not in expression:
                continue
            params.append(db_value(field, field.pre_save(obj, add=True)))  # pre_save fills auto_now_add
    return params


def _mark_saved(objects):
    """What Django sets on an instance once its row is written."""
    for obj in objects:
        obj._state.adding = False
        obj._state.db = connection.alias


@lru_cache(maxsize=None)
def _insert_after_sql(lookup, models, computed):
    """`WITH found AS (lookup), m0 AS (INSERT ...), ... SELECT * FROM found`, with the columns named in
    `computed` ({(object index, attname): SQL}) given by their SQL instead of a bare parameter."""
    computed = dict(computed)
    quote = connection.ops.quote_name
    parts = [f"found AS ({lookup})"]
    for index, model in enumerate(models):
        fields = _insert_fields(model)
        values = ", ".join(computed.get((index, field.attname), "%s") for field in fields)
        parts.append(f"m{index} AS (INSERT INTO {quote(model._meta.db_table)} "
                     f"({', '.join(quote(field.column) for field in fields)}) VALUES ({values}))")
    return f"WITH {', '.join(parts)} SELECT * FROM found"


def insert_together_after(lookup, lookup_params, objects, computed):
    """Look up at most one row and insert new instances, some columns computed from that row, in one statement.

    `lookup` is a SELECT whose row the inserts see as `found`; `computed` maps (index in `objects`, attname) to
    the SQL of that column, where `%s` (at most once) stands for the instance's own value of the field. All
    parts see one snapshot, so the lookup cannot see the new rows. Returns the row found, or None. As with
    `insert_together`, serial keys are not read back.
    """
    sql = _insert_after_sql(lookup, tuple(type(obj) for obj in objects), tuple(sorted(computed.items())))
    with connection.cursor() as cursor:
        row = execute(cursor, sql, [*lookup_params, *_insert_params(objects, computed)]).fetchone()
    _mark_saved(objects)
    return row


@lru_cache(maxsize=None)
def _select_sql(models, joins, where):
    columns = []
    for alias, model in models:
        columns += [f"{alias}.{connection.ops.quote_name(field.column)}" for field in _fields(model)]
    return f"SELECT {', '.join(columns)} {joins} WHERE {where}"


@lru_cache(maxsize=None)
def _reader(model):
    """(attnames, index of the primary key, [(column index, field, converters)] for the columns needing one)."""
    fields = _fields(model)
    converters = [field.get_db_converters(connection) for field in fields]
    converting = [(index, field, found) for index, (field, found) in enumerate(zip(fields, converters)) if found]
    return [field.attname for field in fields], [f.primary_key for f in fields].index(True), converting


def select_joined(models, joins, where, params):
    """One row of several joined models as instances (None for a model whose LEFT JOIN found nothing)."""
    with connection.cursor() as cursor:
        execute(cursor, _select_sql(models, joins, where), params)
        row = cursor.fetchone()
    return None if row is None else _joined_instances(models, row)


def select_joined_all(models, joins, where, params):
    """Every matching row of several joined models, each as a list of instances."""
    with connection.cursor() as cursor:
        rows = execute(cursor, _select_sql(models, joins, where), params).fetchall()
    return [_joined_instances(models, row) for row in rows]


def _joined_instances(models, row):
    instances, offset = [], 0
    for _alias, model in models:
        width = len(_reader(model)[0])
        instances.append(_instance(model, row[offset:offset + width]))
        offset += width
    return instances


def _instance(model, values):
    """A model instance from its columns' database values, converted as the ORM does; None for a row of NULLs
    (a LEFT JOIN that found nothing)."""
    attnames, pk_index, converting = _reader(model)
    if values[pk_index] is None:
        return None
    values = list(values)
    for index, field, converters in converting:
        for converter in converters:
            values[index] = converter(values[index], field, connection)
    return model.from_db(connection.alias, attnames, values)


# Values the ORM sends to PostgreSQL unchanged, by the exact class of the field: for these, the field's
# get_db_prep_save (three calls deep, with its checks) returns the value itself.
_UNCHANGED = {
    db_models.CharField: (str,), db_models.TextField: (str,), db_models.SlugField: (str,),
    db_models.IntegerField: (int,), db_models.PositiveIntegerField: (int,), db_models.BigIntegerField: (int,),
    db_models.SmallIntegerField: (int,), db_models.PositiveSmallIntegerField: (int,),
    db_models.AutoField: (int,), db_models.BigAutoField: (int,),
    db_models.BooleanField: (bool,), db_models.UUIDField: (uuid.UUID,), db_models.DateTimeField: (datetime,),
}


@lru_cache(maxsize=None)
def _unchanged_types(field):
    """The value types `field` sends as they are (a foreign key: those of the field it points to); () if none."""
    target = field.target_field if field.is_relation and field.many_to_one else field
    return _UNCHANGED.get(type(target), ()) if connection.vendor == "postgresql" else ()


def db_value(field, value):
    """A value as the ORM would send it for `field`. JSON goes as text, which the jsonb column or parameter reads,
    rather than through the adapter object Django wraps it in (measurably slower for the few small documents of
    a job request). None, strings, integers, booleans, UUIDs and aware datetimes of the plain field classes go as
    they are, which is what the field's own conversion returns for them."""
    if value is None:
        if _unchanged_types(field):
            return None
    elif type(value) in _unchanged_types(field) and (type(value) is not datetime or value.tzinfo is not None):
        return value
    elif isinstance(field, JSONField):
        return json.dumps(value, cls=field.encoder)
    return field.get_db_prep_save(value, connection=connection)


def db_values(obj, fields):
    """The database values of some of an instance's fields, as the ORM would send them."""
    return [db_value(field, field.pre_save(obj, add=True)) for field in fields]


@lru_cache(maxsize=None)
def _update_then_insert_sql(model, names, child, link):
    table = connection.ops.quote_name(model._meta.db_table)
    pk = connection.ops.quote_name(model._meta.pk.column)
    assignments = ", ".join(f"{connection.ops.quote_name(model._meta.get_field(name).column)} = %s"
                            for name in names)
    child_fields = [field for field in _insert_fields(child) if field.attname != link]
    columns = ", ".join([connection.ops.quote_name(child._meta.get_field(link).column)]
                        + [connection.ops.quote_name(field.column) for field in child_fields])
    placeholders = ", ".join(["%s"] * len(child_fields))
    return (
        f"WITH moved AS (UPDATE {table} SET {assignments} WHERE {pk} = %s AND "
        f"{connection.ops.quote_name(model._meta.get_field('status').column)} = %s RETURNING {pk}) "
        f"INSERT INTO {connection.ops.quote_name(child._meta.db_table)} ({columns}) "
        f"SELECT moved.{pk}, {placeholders} FROM moved"
    ), child_fields


def update_if_status_then_insert(obj, expected_status, updates, child, link):
    """`UPDATE ... SET updates WHERE pk = obj.pk AND status = expected` and, only when that matched a row,
    insert `child` (its `link` field pointing at obj) — one statement. Returns whether the row was updated."""
    model = type(obj)
    names = tuple(sorted(updates))
    sql, child_fields = _update_then_insert_sql(model, names, type(child), link)
    params = [db_value(model._meta.get_field(name), updates[name]) for name in names]
    params += [obj.pk, expected_status]
    params += db_values(child, child_fields)
    with connection.cursor() as cursor:
        execute(cursor, sql, params)
        return cursor.rowcount == 1


@lru_cache(maxsize=None)
def _family_sql(parent, children):
    """`children`: ((model, link attname, SQL of the parent's id), ...). Returns the SQL and, per model, the fields
    sent as parameters."""
    quote = connection.ops.quote_name
    pk = quote(parent._meta.pk.column)
    parent_fields = _insert_fields(parent)
    parts = [
        f"p AS (INSERT INTO {quote(parent._meta.db_table)} ({', '.join(quote(f.column) for f in parent_fields)}) "
        f"VALUES ({', '.join(['%s'] * len(parent_fields))}) RETURNING {pk})"
    ]
    child_fields = []
    for index, (model, link, expression) in enumerate(children):
        fields = [field for field in _insert_fields(model) if field.attname != link]
        child_fields.append(fields)
        link_column = quote(model._meta.get_field(link).column)
        values = ", ".join(f"CAST(%s AS {field.cast_db_type(connection)})" for field in fields)
        parts.append(
            f"c{index} AS (INSERT INTO {quote(model._meta.db_table)} "
            f"({', '.join([link_column] + [quote(f.column) for f in fields])}) "
            f"SELECT {expression}, {values} FROM p RETURNING {quote(model._meta.pk.column)})"
        )
    ids = ", ".join(["(SELECT " + pk + " FROM p)"] + [f"(SELECT {quote(m._meta.pk.column)} FROM c{i})"
                                                       for i, (m, _, _) in enumerate(children)])
    return f"WITH {', '.join(parts)} SELECT {ids}", parent_fields, child_fields


def insert_family(parent, children):
    """Insert a row with a serial key and rows that name it, in one statement; every object gets its id.

    `children`: [(obj, link attname, SQL of the parent's new id, e.g. "p.id" or "p.id::text"), ...].
    """
    sql, parent_fields, child_fields = _family_sql(
        type(parent), tuple((type(obj), link, expression) for obj, link, expression in children))
    params = db_values(parent, parent_fields)
    for (obj, _, _), fields in zip(children, child_fields):
        params += db_values(obj, fields)
    with connection.cursor() as cursor:
        execute(cursor, sql, params)
        ids = cursor.fetchone()
    parent.pk = ids[0]
    for (obj, link, _), child_id in zip(children, ids[1:]):
        obj.pk = child_id
        if obj._meta.get_field(link).is_relation:
            setattr(obj, link, parent.pk)
    _mark_saved((parent, *(obj for obj, _, _ in children)))
    return parent


def select_by_pk(model, pk):
    """The row of `model` with this primary key as an instance, or None (a prepared read, no query compilation)."""
    row = select_joined((("t", model),), f"FROM {connection.ops.quote_name(model._meta.db_table)} t",
                        f"t.{connection.ops.quote_name(model._meta.pk.column)} = %s", [pk])
    return None if row is None else row[0]


@lru_cache(maxsize=None)
def _upsert_sql(model, unique, update):
    quote = connection.ops.quote_name
    fields = _insert_fields(model)
    columns = ", ".join(quote(field.column) for field in fields)
    assignments = ", ".join(f"{quote(model._meta.get_field(name).column)} = EXCLUDED."
                            f"{quote(model._meta.get_field(name).column)}" for name in update)
    return (f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(fields))}) "
            f"ON CONFLICT ({quote(model._meta.get_field(unique).column)}) DO UPDATE SET {assignments}"), fields


def upsert(obj, unique, update):
    """`INSERT ... ON CONFLICT (unique) DO UPDATE SET update...`: insert the row, or update those fields of the row
    that has the same `unique` value. The object's own key is not read back."""
    sql, fields = _upsert_sql(type(obj), unique, tuple(update))
    with connection.cursor() as cursor:
        execute(cursor, sql, db_values(obj, fields))


def select_where(model, where, params=()):
    """Instances of `model` whose rows match `where` (SQL after WHERE, which may end with ORDER BY, LIMIT or FOR
    UPDATE), read by a prepared statement: for the watcher's and the worker's reads on every batch and job."""
    sql = (f"SELECT {', '.join(connection.ops.quote_name(f.column) for f in _fields(model))} "
           f"FROM {connection.ops.quote_name(model._meta.db_table)} WHERE {where}")
    with connection.cursor() as cursor:
        rows = execute(cursor, sql, params).fetchall()
    return [_instance(model, row) for row in rows]


@lru_cache(maxsize=256)
def _update_rows_sql(model, names, count):
    quote = connection.ops.quote_name
    pk = model._meta.pk
    fields = [pk] + [model._meta.get_field(name) for name in names]
    row = "(" + ", ".join(f"CAST(%s AS {field.cast_db_type(connection)})" for field in fields) + ")"
    assignments = ", ".join(f"{quote(field.column)} = v.{quote(field.column)}" for field in fields[1:])
    return (f"UPDATE {quote(model._meta.db_table)} AS t SET {assignments} FROM (VALUES {', '.join([row] * count)}) "
            f"AS v ({', '.join(quote(field.column) for field in fields)}) WHERE t.{quote(pk.column)} = "
            f"v.{quote(pk.column)}"), fields


def update_rows(objects, names):
    """Write these fields of these saved instances in one `UPDATE ... FROM (VALUES ...)` statement.

    Django's bulk_update builds a CASE expression per field and row, and compiling it cost more than the update;
    the statement's shape depends on the number of rows, so it is not prepared."""
    if not objects:
        return 0
    sql, fields = _update_rows_sql(type(objects[0]), tuple(names), len(objects))
    params = []
    for obj in objects:
        params.extend(db_value(field, getattr(obj, field.attname)) for field in fields)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
