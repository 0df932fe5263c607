"""A transactional catalog version, bumped by triggers on every write to what the catalog listing shows."""
from django.db import migrations

TABLES = ("shared_app", "shared_dockercontainer", "shared_marathonconfig", "shared_deployment")

FORWARD = [
    "CREATE TABLE shared_catalog_version (id smallint PRIMARY KEY, version bigint NOT NULL)",
    "INSERT INTO shared_catalog_version (id, version) VALUES (1, 0)",
    """
    CREATE FUNCTION shared_bump_catalog_version() RETURNS trigger AS $$
    BEGIN
        UPDATE shared_catalog_version SET version = version + 1 WHERE id = 1;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
] + [
    f"CREATE TRIGGER {table}_catalog_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
    f"FOR EACH STATEMENT EXECUTE FUNCTION shared_bump_catalog_version()"
    for table in TABLES
]

BACKWARD = [f"DROP TRIGGER IF EXISTS {table}_catalog_version ON {table}" for table in TABLES] + [
    "DROP FUNCTION IF EXISTS shared_bump_catalog_version()",
    "DROP TABLE IF EXISTS shared_catalog_version",
]


class Migration(migrations.Migration):
    dependencies = [("shared", "0002_webhooks")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
