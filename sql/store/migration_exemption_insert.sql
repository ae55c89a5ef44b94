-- Records one migration exemption as a run saw it.
INSERT INTO migration_exemptions VALUES (?, ?, ?, ?, ?, ?, ?::date, ?, ?)
