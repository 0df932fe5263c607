"""Statements for the hottest writes, built once from the models' own metadata and run in one round trip.

Django compiles every query anew, which costs more than PostgreSQL's work for a small insert; on the path that
answers a 202 (job, its first timeline entry, its audit entry) that compilation dominated. The SQL here is
generated from `Model._meta` (columns, and each field's own conversion to database values), so it follows the
models; only the shape of the statement is written by hand.
"""
from functools import lru_cache

from django.db import connection
from django.db.models.fields import AutoFieldMixin


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
    params = []
    for obj in objects:
        for field in _insert_fields(type(obj)):
            value = field.pre_save(obj, add=True)  # fills auto_now_add and the like
            params.append(field.get_db_prep_save(value, connection=connection))
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(tuple(type(obj) for obj in objects)), params)
    for obj in objects:
        obj._state.adding = False
        obj._state.db = connection.alias
    return objects


@lru_cache(maxsize=None)
def _select_sql(models, joins, where):
    columns = []
    for alias, model in models:
        columns += [f"{alias}.{connection.ops.quote_name(field.column)}" for field in _fields(model)]
    return f"SELECT {', '.join(columns)} {joins} WHERE {where}"


def select_joined(models, joins, where, params):
    """One row of several joined models as instances (None for a model whose LEFT JOIN found nothing)."""
    with connection.cursor() as cursor:
        cursor.execute(_select_sql(models, joins, where), params)
        row = cursor.fetchone()
    if row is None:
        return None
    instances, offset = [], 0
    for _alias, model in models:
        fields = _fields(model)
        values = row[offset:offset + len(fields)]
        offset += len(fields)
        if values[[f.primary_key for f in fields].index(True)] is None:
            instances.append(None)
            continue
        converted = []
        for field, value in zip(fields, values):
            for converter in field.get_db_converters(connection):
                value = converter(value, field, connection)
            converted.append(value)
        instances.append(model.from_db(connection.alias, [field.attname for field in fields], converted))
    return instances


def db_values(obj, fields):
    """The database values of some of an instance's fields, as the ORM would send them."""
    return [field.get_db_prep_save(field.pre_save(obj, add=True), connection=connection) for field in fields]


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
    params = [model._meta.get_field(name).get_db_prep_save(updates[name], connection=connection) for name in names]
    params += [obj.pk, expected_status]
    params += db_values(child, child_fields)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
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
        cursor.execute(sql, params)
        ids = cursor.fetchone()
    parent.pk = ids[0]
    for (obj, link, _), child_id in zip(children, ids[1:]):
        obj.pk = child_id
        if obj._meta.get_field(link).is_relation:
            setattr(obj, link, parent.pk)
    for obj in (parent, *(obj for obj, _, _ in children)):
        obj._state.adding = False
        obj._state.db = connection.alias
    return parent
