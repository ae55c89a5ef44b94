-- Records one migration definition of a run.
INSERT INTO migration_defs VALUES (?, ?, ?, ?, ?, ?::date, ?::date, ?, ?, ?, ?::json, ?)
