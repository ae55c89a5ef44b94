-- migrations: the schema files applied, in order.
select version, name from schema_migrations order by version
