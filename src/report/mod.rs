//! The static site: view models built in Rust from the database ([`data`], [`site`]),
//! formatted by minijinja templates from `templates/` (autoescape on, undefined is an error),
//! charts as inline SVG ([`svg`]), written atomically ([`publish`]).
//!
//! Report definitions in `reports/` bind each page kind to its template and the `sql/`
//! queries that feed it; they are checked against what is built in when the site renders.

pub mod custom;
pub mod data;
pub mod fx;
pub mod publish;
pub mod site;
pub mod summary;
pub mod svg;

use std::path::Path;

use anyhow::{bail, Context, Result};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Deserialize;

/// Templates, static assets and report definitions, embedded so that the binary renders a
/// site on its own.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("macros.html", include_str!("../../templates/macros.html")),
    ("overview.html", include_str!("../../templates/overview.html")),
    ("scope.html", include_str!("../../templates/scope.html")),
    ("entity.html", include_str!("../../templates/entity.html")),
    ("check_row.html", include_str!("../../templates/check_row.html")),
    ("component_row.html", include_str!("../../templates/component_row.html")),
    ("check.html", include_str!("../../templates/check.html")),
    ("quality.html", include_str!("../../templates/quality.html")),
    ("index.html", include_str!("../../templates/index.html")),
    ("table.html", include_str!("../../templates/table.html")),
    ("migrations.html", include_str!("../../templates/migrations.html")),
    ("migration.html", include_str!("../../templates/migration.html")),
    ("roi.html", include_str!("../../templates/roi.html")),
];

pub const ASSETS: &[(&str, &str)] = &[
    ("assets/site.css", include_str!("../../templates/assets/site.css")),
    ("assets/filter.js", include_str!("../../templates/assets/filter.js")),
];

pub const REPORTS: &[(&str, &str)] = &[
    ("overview.yaml", include_str!("../../reports/overview.yaml")),
    ("scope.yaml", include_str!("../../reports/scope.yaml")),
    ("entity.yaml", include_str!("../../reports/entity.yaml")),
    ("check.yaml", include_str!("../../reports/check.yaml")),
    ("quality.yaml", include_str!("../../reports/quality.yaml")),
    ("index.yaml", include_str!("../../reports/index.yaml")),
    ("table.yaml", include_str!("../../reports/table.yaml")),
    ("migrations.yaml", include_str!("../../reports/migrations.yaml")),
    ("migration.yaml", include_str!("../../reports/migration.yaml")),
    ("roi.yaml", include_str!("../../reports/roi.yaml")),
];

/// A report definition (`reports/*.yaml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportDef {
    /// page kind: overview, scope, entity, check, quality, index
    pub kind: String,
    pub template: String,
    /// `sql/report/<name>.sql` queries feeding it
    pub queries: Vec<String>,
    pub description: String,
}

/// The report definitions, checked: every template exists, every query is a known file.
pub fn definitions() -> Result<Vec<ReportDef>> {
    let mut out = Vec::new();
    for (file, text) in REPORTS {
        let value = crate::yaml::parse_single(text).map_err(|e| anyhow::anyhow!("reports/{file}: {e}"))?.unwrap_or_default();
        let def: ReportDef = serde_json::from_value(value).with_context(|| format!("reports/{file}"))?;
        if !TEMPLATES.iter().any(|(n, _)| *n == def.template) {
            bail!("reports/{file}: template {} is not in templates/", def.template);
        }
        for q in &def.queries {
            if crate::store::sql::report_query(q).is_none() {
                bail!("reports/{file}: query {q} is not in sql/report/");
            }
        }
        out.push(def);
    }
    Ok(out)
}

/// The template environment: autoescape for HTML, undefined values are errors.
pub fn environment() -> Result<Environment<'static>> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| if name.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(false);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    // escaping: & < > " ' in text and quoted attributes (minijinja's default also escapes
    // `/`, which only makes every link longer)
    env.set_formatter(|out, state, value| {
        if state.auto_escape() == AutoEscape::None || value.is_safe() {
            return minijinja::escape_formatter(out, state, value);
        }
        match value.as_str() {
            Some(s) => svg::esc_to(out, s).map_err(|_| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "writing a page")),
            None => minijinja::escape_formatter(out, state, value),
        }
    });
    for (name, text) in TEMPLATES {
        env.add_template(name, text).with_context(|| format!("templates/{name}"))?;
    }
    Ok(env)
}

/// What a render did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SiteStats {
    pub pages: usize,
    /// pages whose bytes changed (or are new)
    pub written: usize,
    /// pages linked unchanged from the previous site
    pub unchanged: usize,
    pub bytes: u64,
    pub largest_page: String,
    pub largest_bytes: u64,
    pub dir: std::path::PathBuf,
}

/// Renders every page of a loaded run, handing each (path, bytes) to `sink` (benchmarks,
/// tests: nothing is written).
pub fn render_each(env: &Environment<'static>, data: &data::RunData, sink: &mut dyn FnMut(&str, &[u8]) -> Result<()>) -> Result<()> {
    render_all(env, data, None, &[], sink)
}

/// Renders every page, handing each (path, bytes) to `sink` as soon as it is rendered (one
/// buffer is reused: the site is never held in memory whole).
fn render_all(
    env: &Environment<'static>,
    data: &data::RunData,
    conn: Option<&duckdb::Connection>,
    custom: &[custom::CustomReport],
    sink: &mut dyn FnMut(&str, &[u8]) -> Result<()>,
) -> Result<()> {
    let t0 = std::time::Instant::now();
    let mut s = site::Site::new(data);
    s.env = Some(env);
    s.custom = custom.iter().map(|r| (r.title.clone(), r.page.clone())).collect();
    let t_site = t0.elapsed();
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut t_sink = std::time::Duration::ZERO;
    let mut t_conv = std::time::Duration::ZERO;
    let mut t_render = std::time::Duration::ZERO;
    // per template: pages, time converting and rendering
    let mut per_template: std::collections::BTreeMap<&str, (usize, std::time::Duration)> = Default::default();
    s.each_page(&mut |p| {
        let t = env.get_template(p.template)?;
        buf.clear();
        let tc = std::time::Instant::now();
        let v = p.context.value();
        t_conv += tc.elapsed();
        t.render_captured_to(&v, &mut buf).with_context(|| format!("rendering {} ({})", p.path, p.template))?;
        drop(v);
        drop(p.context);
        t_render += tc.elapsed();
        let e = per_template.entry(p.template).or_default();
        e.0 += 1;
        e.1 += tc.elapsed();
        let ts = std::time::Instant::now();
        sink(&p.path, &buf)?;
        t_sink += ts.elapsed();
        Ok(())
    })?;
    tracing::debug!(
        site_ms = t_site.as_millis() as u64,
        view_models_ms = (t0.elapsed() - t_site - t_render - t_sink).as_millis() as u64,
        render_ms = t_render.as_millis() as u64,
        sink_ms = t_sink.as_millis() as u64,
        conversion_ms = t_conv.as_millis() as u64,
        per_template = %per_template.iter().map(|(t, (n, d))| format!("{t}: {n} in {} ms", d.as_millis())).collect::<Vec<_>>().join(", "),
        "site rendered"
    );
    if let Some(conn) = conn {
        let mut env = env.clone();
        for r in custom {
            let (columns, rows, rows_total) = custom::run_query(conn, r, &data.run.run_id, &data.grading_id)?;
            let base = s.base_for(&r.page, r.title.clone(), "overview");
            let ctx = custom::TablePage {
                base,
                heading: r.title.clone(),
                description: r.description.clone(),
                columns,
                rows,
                rows_total,
                defined_in: format!("{}:{}", r.shown, r.line),
            };
            let name = match &r.template {
                Some((name, src)) => {
                    env.add_template_owned(name.clone(), src.clone()).with_context(|| format!("{}: template", r.file))?;
                    name.clone()
                }
                None => "table.html".to_owned(),
            };
            buf.clear();
            env.get_template(&name)?.render_captured_to(&ctx, &mut buf).with_context(|| format!("rendering {} ({})", r.page, r.file))?;
            sink(&r.page, &buf)?;
        }
    }
    for (path, text) in ASSETS {
        sink(path, text.as_bytes())?;
    }
    Ok(())
}

/// Renders run `run_id` (its grading `grading_id`, if any) from the database into
/// `site_dir`, atomically, with the pipeline's custom reports.
pub fn render_run(
    conn: &duckdb::Connection,
    run_id: &str,
    grading_id: Option<&str>,
    site_dir: &Path,
    custom: &[custom::CustomReport],
) -> Result<SiteStats> {
    definitions()?;
    let env = environment()?;
    let data = data::load(conn, run_id, grading_id)?;
    let mut publisher = publish::Publisher::new(site_dir)?;
    render_all(&env, &data, Some(conn), custom, &mut |path, bytes| publisher.add(path, bytes))?;
    publisher.finish()
}
