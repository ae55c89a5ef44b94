-- Removes the migration exemptions recorded for a run ($1) before they are recorded again.
DELETE FROM migration_exemptions WHERE run_id = $1
