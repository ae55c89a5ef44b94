//! Every SQL text of the store, embedded from `sql/` (SQL never lives in Rust literals
//! elsewhere). Schema files are numbered and applied in order; an applied file is never
//! edited, a change is a new file.

/// Bookkeeping of applied schema files.
pub const MIGRATIONS_TABLE: &str =
    "create table if not exists schema_migrations (version integer primary key, name varchar not null, applied_at timestamp not null);";

/// (version, name, DDL) in order.
pub const SCHEMA: &[(i64, &str, &str)] = &[
    (1, "001_init", include_str!("../../sql/schema/001_init.sql")),
    (2, "002_grading", include_str!("../../sql/schema/002_grading.sql")),
    (3, "003_evidence", include_str!("../../sql/schema/003_evidence.sql")),
];

pub const RUN_COUNTS: &str = include_str!("../../sql/queries/run_counts.sql");

/// Grading: the catalog part of the wide fact view ($1 run).
pub const ENTITY_BASE: &str = include_str!("../../sql/grade/entity_base.sql");
/// Grading: grades from the staged results ($1 grading, $2 run).
pub const GRADES: &str = include_str!("../../sql/grade/grades.sql");
/// Grading: roll-ups by domain, system and team ($1 grading, $2 run).
pub const ROLLUPS: &str = include_str!("../../sql/grade/rollups.sql");
