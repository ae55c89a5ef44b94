-- migrations_table: bookkeeping of applied schema files (created before any of them).
create table if not exists schema_migrations (version integer primary key, name varchar not null, applied_at timestamp not null);
