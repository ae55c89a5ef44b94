//! Every SQL text of echo-health, embedded from `sql/`: one statement or relation per file,
//! its purpose on its first line. Schema files are numbered and applied in order; an applied
//! file is never edited, a change is a new file. Statements that depend on the check packs are
//! templates here with `{name}` holes that `grade::engine` fills (one pass, never
//! re-scanned) with the fact columns and check expressions, from names and expressions
//! validated before they reach SQL text.

/// Bookkeeping of applied schema files.
pub const MIGRATIONS_TABLE: &str = include_str!("../../sql/store/migrations_table.sql");

/// (version, name, DDL) in order.
pub const SCHEMA: &[(i64, &str, &str)] = &[
    (1, "001_init", include_str!("../../sql/schema/001_init.sql")),
    (2, "002_grading", include_str!("../../sql/schema/002_grading.sql")),
    (3, "003_evidence", include_str!("../../sql/schema/003_evidence.sql")),
    (4, "004_compact_results", include_str!("../../sql/schema/004_compact_results.sql")),
    (5, "005_lean_grades", include_str!("../../sql/schema/005_lean_grades.sql")),
    (6, "006_source_cache", include_str!("../../sql/schema/006_source_cache.sql")),
    (7, "007_migration_states", include_str!("../../sql/schema/007_migration_states.sql")),
    (8, "008_migration_defs", include_str!("../../sql/schema/008_migration_defs.sql")),
    (9, "009_migration_exemptions", include_str!("../../sql/schema/009_migration_exemptions.sql")),
    (10, "010_migration_codes", include_str!("../../sql/schema/010_migration_codes.sql")),
    (11, "011_roi_models", include_str!("../../sql/schema/011_roi_models.sql")),
];

/// The newest completed run's fingerprint (unchanged runs).
pub const LAST_FINGERPRINT: &str = include_str!("../../sql/store/last_fingerprint.sql");

/// Source caches (ETags, snapshots) kept between runs.
pub const SOURCE_CACHE: &str = include_str!("../../sql/store/source_cache.sql");
pub const SOURCE_CACHE_STAGE: &str = include_str!("../../sql/store/source_cache_stage.sql");
pub const SOURCE_CACHE_MERGE: &str = include_str!("../../sql/store/source_cache_merge.sql");

/// Migrations: states of a run.
pub const MIGRATION_STATES_CLEAR: &str = include_str!("../../sql/store/migration_states_clear.sql");
pub const MIGRATION_STATE_COUNTS: &str = include_str!("../../sql/store/migration_state_counts.sql");
pub const MIGRATION_DEFS_CLEAR: &str = include_str!("../../sql/store/migration_defs_clear.sql");
pub const MIGRATION_DEF_INSERT: &str = include_str!("../../sql/store/migration_def_insert.sql");
pub const MIGRATION_EXEMPTIONS_CLEAR: &str = include_str!("../../sql/store/migration_exemptions_clear.sql");
pub const MIGRATION_EXEMPTION_INSERT: &str = include_str!("../../sql/store/migration_exemption_insert.sql");
pub const MIGRATION_WIDE_ENTITIES: &str = include_str!("../../sql/migrate/wide_entities.sql");
pub const MIGRATION_ACTIVE_EXEMPTIONS: &str = include_str!("../../sql/migrate/active_exemptions.sql");
pub const REPORT_MIGRATION_DEFS: &str = include_str!("../../sql/report/migration_defs.sql");
pub const REPORT_MIGRATION_STATES: &str = include_str!("../../sql/report/migration_states.sql");
pub const REPORT_MIGRATION_EXEMPTIONS: &str = include_str!("../../sql/report/migration_exemptions.sql");
pub const REPORT_MIGRATION_SCOPE_HISTORY: &str = include_str!("../../sql/report/migration_scope_history.sql");
pub const MIGRATION_ROLLUPS: &str = include_str!("../../sql/migrate/rollups.sql");
/// The migration benchmark's synthetic history.
pub const MIGRATION_BENCH_HISTORY_RUNS: &str = include_str!("../../sql/migrate/bench_history_runs.sql");
pub const MIGRATION_BENCH_HISTORY_DEFS: &str = include_str!("../../sql/migrate/bench_history_defs.sql");
pub const MIGRATION_BENCH_HISTORY_STATES: &str = include_str!("../../sql/migrate/bench_history_states.sql");
/// The tech-debt ROI model of a run.
pub const ROI_MODEL_INSERT: &str = include_str!("../../sql/store/roi_model_insert.sql");
pub const REPORT_ROI_MODEL: &str = include_str!("../../sql/report/roi_model.sql");
/// The scheduler: when a pipeline last ran.
pub const LAST_RUN_START: &str = include_str!("../../sql/store/last_run_start.sql");
/// Retention: which runs go, and dropping them.
pub const RETENTION_PICK: &str = include_str!("../../sql/store/retention_pick.sql");
pub const RETENTION_DROP: &str = include_str!("../../sql/store/retention_drop.sql");
/// `summary`: what changed since the previous run.
pub const SUMMARY_RUNS: &str = include_str!("../../sql/summary/runs.sql");
pub const SUMMARY_UNCHANGED_SINCE: &str = include_str!("../../sql/summary/unchanged_since.sql");
pub const SUMMARY_SCOPE_CHANGES: &str = include_str!("../../sql/summary/scope_changes.sql");
pub const SUMMARY_NEW_FAILURES: &str = include_str!("../../sql/summary/new_failures.sql");
pub const SUMMARY_MIGRATIONS: &str = include_str!("../../sql/summary/migrations.sql");
/// Templates filled by `migrate::states_sql` (`{id}`, `{done}`, `{started}`, `{applies}`) and
/// `migrate::evaluate` (`{states}`).
pub const MIGRATION_STATE_OF: &str = include_str!("../../sql/migrate/state_of.sql");
pub const MIGRATION_INSERT_STATES: &str = include_str!("../../sql/migrate/insert_states.sql");

pub const RUN_COUNTS: &str = include_str!("../../sql/queries/run_counts.sql");

/// Grading: the catalog part of the wide fact view ($1 run).
pub const ENTITY_BASE: &str = include_str!("../../sql/grade/entity_base.sql");
/// Grading: the domains of a run and their parents, for the roll-ups ($1 run).
pub const DOMAIN_PARENTS: &str = include_str!("../../sql/grade/domain_parents.sql");

// Statements of the store, the runner and grading (one relation per file, purpose on top).
pub const GRADING_ERROR: &str = include_str!("../../sql/store/grading_error.sql");
pub const RUN_ADD_ERRORS: &str = include_str!("../../sql/store/run_add_errors.sql");
pub const MIGRATION_APPLIED: &str = include_str!("../../sql/store/migration_applied.sql");
pub const MIGRATIONS: &str = include_str!("../../sql/store/migrations.sql");
pub const MARK_INTERRUPTED: &str = include_str!("../../sql/store/mark_interrupted.sql");
pub const BEGIN_RUN: &str = include_str!("../../sql/store/begin_run.sql");
pub const FAIL_RUN: &str = include_str!("../../sql/store/fail_run.sql");
pub const END_RUN: &str = include_str!("../../sql/store/end_run.sql");
pub const RUNS: &str = include_str!("../../sql/store/runs.sql");
pub const PICK_RUN: &str = include_str!("../../sql/store/pick_run.sql");
pub const RUN_GRADING: &str = include_str!("../../sql/grade/run_grading.sql");
pub const LATEST_GRADING: &str = include_str!("../../sql/grade/latest_grading.sql");
pub const RUN_AS_OF: &str = include_str!("../../sql/store/run_as_of.sql");
pub const SCOPE_MEAN_SCORE: &str = include_str!("../../sql/grade/scope_mean_score.sql");
pub const SET_GATES: &str = include_str!("../../sql/grade/set_gates.sql");
pub const STAGE_TABLES: &str = include_str!("../../sql/grade/stage_tables.sql");
pub const STAGE_EXEMPTION: &str = include_str!("../../sql/grade/stage_exemption.sql");
pub const INSERT_GRADING: &str = include_str!("../../sql/grade/insert_grading.sql");
pub const INSERT_EXEMPTION: &str = include_str!("../../sql/grade/insert_exemption.sql");
pub const SET_GRADING_SUMMARY: &str = include_str!("../../sql/grade/set_grading_summary.sql");
pub const GRADINGS_OF_RUN: &str = include_str!("../../sql/grade/gradings_of_run.sql");
pub const LEVEL_CHANGES: &str = include_str!("../../sql/grade/level_changes.sql");
pub const OUTCOME_CHANGES: &str = include_str!("../../sql/grade/outcome_changes.sql");
pub const FUTURE_FACTS: &str = include_str!("../../sql/grade/future_facts.sql");
pub const GRADING_WARNING: &str = include_str!("../../sql/store/grading_warning.sql");
pub const GATE_MIN_LEVEL: &str = include_str!("../../sql/grade/gate_min_level.sql");
pub const STAGE_WEIGHTS: &str = include_str!("../../sql/grade/stage_weights.sql");
pub const RECHECK_ONE: &str = include_str!("../../sql/grade/recheck_one.sql");
pub const RECHECK_BULK: &str = include_str!("../../sql/grade/recheck_bulk.sql");
pub const RUN_HAS_ENTITY: &str = include_str!("../../sql/grade/run_has_entity.sql");
pub const UNKNOWN_DETAILS: &str = include_str!("../../sql/grade/unknown_details.sql");
pub const ERROR_DETAIL: &str = include_str!("../../sql/grade/error_detail.sql");
pub const WIDE: &str = include_str!("../../sql/grade/wide.sql");
pub const CODES: &str = include_str!("../../sql/grade/codes.sql");

// Reports: what the static site reads (one query per file, `sql/report/`).
pub const REPORT_RUN: &str = include_str!("../../sql/report/run.sql");
pub const REPORT_GRADING: &str = include_str!("../../sql/report/grading.sql");
pub const REPORT_ENTITIES: &str = include_str!("../../sql/report/entities.sql");
pub const REPORT_RELATIONS: &str = include_str!("../../sql/report/relations.sql");
pub const REPORT_GRADES: &str = include_str!("../../sql/report/grades.sql");
pub const REPORT_GRADING_CHECKS: &str = include_str!("../../sql/report/grading_checks.sql");
pub const REPORT_DETAILS: &str = include_str!("../../sql/report/details.sql");
pub const REPORT_FACTS: &str = include_str!("../../sql/report/facts.sql");
pub const REPORT_ROLLUPS: &str = include_str!("../../sql/report/rollups.sql");
pub const REPORT_HISTORY: &str = include_str!("../../sql/report/history.sql");
pub const REPORT_ROLLUP_HISTORY: &str = include_str!("../../sql/report/rollup_history.sql");
pub const REPORT_ERRORS: &str = include_str!("../../sql/report/errors.sql");
pub const REPORT_REJECTED: &str = include_str!("../../sql/report/rejected.sql");
pub const REPORT_EXEMPTIONS: &str = include_str!("../../sql/report/exemptions.sql");
pub const REPORT_SOURCES: &str = include_str!("../../sql/report/sources.sql");
pub const REPORT_THREADS: &str = include_str!("../../sql/report/threads.sql");

// Exports (`sql/export/`): catalog.json, tables, OpenMetrics, Alertmanager.
pub const EXPORT_CATALOG: &str = include_str!("../../sql/export/catalog.sql");
pub const EXPORT_RELATIONS: &str = include_str!("../../sql/export/relations.sql");
pub const EXPORT_ENTITIES: &str = include_str!("../../sql/export/entities.sql");
pub const EXPORT_FACTS: &str = include_str!("../../sql/export/facts.sql");
pub const EXPORT_CHECK_RESULTS: &str = include_str!("../../sql/export/check_results.sql");
pub const EXPORT_GRADES: &str = include_str!("../../sql/export/grades.sql");
pub const EXPORT_ROLLUPS: &str = include_str!("../../sql/export/rollups.sql");
pub const EXPORT_METRIC_GRADES: &str = include_str!("../../sql/export/metric_grades.sql");
pub const EXPORT_METRIC_ROLLUPS: &str = include_str!("../../sql/export/metric_rollups.sql");
pub const EXPORT_GROUPS: &str = include_str!("../../sql/export/groups.sql");

/// The report queries by name (`sql/report/<name>.sql`), for report definitions.
pub const REPORT_QUERIES: &[(&str, &str)] = &[
    ("run", REPORT_RUN),
    ("grading", REPORT_GRADING),
    ("entities", REPORT_ENTITIES),
    ("relations", REPORT_RELATIONS),
    ("grades", REPORT_GRADES),
    ("grading_checks", REPORT_GRADING_CHECKS),
    ("details", REPORT_DETAILS),
    ("facts", REPORT_FACTS),
    ("rollups", REPORT_ROLLUPS),
    ("history", REPORT_HISTORY),
    ("migration_defs", REPORT_MIGRATION_DEFS),
    ("migration_states", REPORT_MIGRATION_STATES),
    ("migration_exemptions", REPORT_MIGRATION_EXEMPTIONS),
    ("roi_model", REPORT_ROI_MODEL),
    ("migration_scope_history", REPORT_MIGRATION_SCOPE_HISTORY),
    ("rollup_history", REPORT_ROLLUP_HISTORY),
    ("errors", REPORT_ERRORS),
    ("rejected", REPORT_REJECTED),
    ("exemptions", REPORT_EXEMPTIONS),
    ("sources", REPORT_SOURCES),
];

/// A report query by name.
pub fn report_query(name: &str) -> Option<&'static str> {
    REPORT_QUERIES.iter().find(|(n, _)| *n == name).map(|(_, q)| *q)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Templates are filled by replacing `{name}` holes: a hole in a comment line would pull
    /// generated (possibly multi-line) SQL into the comment, so comments name holes `<name>`.
    #[test]
    fn template_comments_hold_no_holes() {
        for (name, text) in [
            ("wide", WIDE),
            ("codes", CODES),
            ("recheck_one", RECHECK_ONE),
            ("recheck_bulk", RECHECK_BULK),
            ("gate_min_level", GATE_MIN_LEVEL),
            ("stage_weights", STAGE_WEIGHTS),
            ("export_entities", EXPORT_ENTITIES),
            ("export_facts", EXPORT_FACTS),
            ("export_check_results", EXPORT_CHECK_RESULTS),
            ("export_grades", EXPORT_GRADES),
            ("export_rollups", EXPORT_ROLLUPS),
        ] {
            for line in text.lines().filter(|l| l.trim_start().starts_with("--")) {
                assert!(!line.contains('{'), "{name}: comment holds a hole: {line}");
            }
        }
    }
}
