//! The facts echo-health's own sources produce (GitHub, Prometheus, Zoekt, CodeScene), with
//! their types: checks may name them whether or not the source is configured in a pipeline
//! (they are unknown, never failing, until the source runs). Fact-file sources add their own
//! through `declares` in the pipeline.

use super::sqlexpr::FactType;

/// (name, type, what it means)
pub const KNOWN_FACTS: &[(&str, FactType, &str)] = &[
    ("github.archived", FactType::Boolean, "the repository is archived"),
    ("github.visibility", FactType::Text, "public, private or internal"),
    ("github.default_branch", FactType::Text, "name of the default branch"),
    ("github.days_since_push", FactType::Number, "days since the last push to any branch"),
    ("github.default_branch_protected", FactType::Boolean, "branch protection or an active ruleset covers the default branch"),
    ("github.required_reviews", FactType::Number, "approving reviews required to merge to the default branch"),
    ("github.required_status_checks", FactType::Boolean, "status checks must pass before merging"),
    ("github.codeowners_present", FactType::Boolean, "a CODEOWNERS file exists (root, .github/ or docs/)"),
    ("github.workflows_count", FactType::Number, "GitHub Actions workflows in .github/workflows"),
    ("github.dependency_updates_configured", FactType::Boolean, "Dependabot or Renovate configuration present"),
    ("github.open_pull_requests", FactType::Number, "open pull requests"),
    ("github.oldest_open_pull_request_days", FactType::Number, "age in days of the oldest open pull request"),
    ("github.vulnerability_alerts_critical", FactType::Number, "open Dependabot alerts of critical severity"),
    ("github.vulnerability_alerts_high", FactType::Number, "open Dependabot alerts of high severity"),
    ("github.vulnerability_alerts_medium", FactType::Number, "open Dependabot alerts of medium severity"),
    ("github.vulnerability_alerts_low", FactType::Number, "open Dependabot alerts of low severity"),
    ("github.vulnerability_alerts_enabled", FactType::Boolean, "Dependabot alerts are enabled for the repository"),
    ("github.license", FactType::Text, "SPDX id of the license"),
    ("github.primary_language", FactType::Text, "primary language"),
    ("github.releases_90d", FactType::Number, "releases published in the last 90 days"),
    ("github.merged_pull_requests_90d", FactType::Number, "pull requests merged in the last 90 days"),
    ("prometheus.availability_30d", FactType::Number, "share of successful requests over 30 days (0-1)"),
    ("prometheus.error_ratio_7d", FactType::Number, "share of failed requests over 7 days (0-1)"),
    ("prometheus.latency_p99_ms_7d", FactType::Number, "99th percentile latency over 7 days, in ms"),
    ("prometheus.request_rate_7d", FactType::Number, "mean requests per second over 7 days"),
    ("prometheus.has_alerts", FactType::Boolean, "alerting rules exist for the service"),
    ("zoekt.log4j_refs", FactType::Number, "lines referencing log4j 1.x (org.apache.log4j)"),
    ("zoekt.deprecated_api_refs", FactType::Number, "lines calling deprecated internal APIs"),
    ("codescene.code_health", FactType::Number, "average code health, 1-10 (10 best)"),
    ("codescene.hotspot_code_health", FactType::Number, "hotspot code health, 1-10 (10 best)"),
    ("codescene.worst_performer_code_health", FactType::Number, "code health of the worst file, 1-10"),
];
