-- Removes the migration definitions recorded for a run ($1) before they are recorded again.
DELETE FROM migration_defs WHERE run_id = $1
