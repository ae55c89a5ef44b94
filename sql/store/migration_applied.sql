-- migration_applied: whether schema file $1 was applied.
select count(*) from schema_migrations where version = ?
