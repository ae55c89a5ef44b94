-- Removes the migration states of a run ($1) before they are evaluated again.
DELETE FROM migration_codes WHERE run_id = $1
