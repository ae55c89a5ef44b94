//! echo-health: batch technical-health analytics over a Backstage software catalog.
//!
//! A run reads a pipeline file ([`config`]), collects catalog descriptors ([`catalog`]) and
//! facts ([`sources`]), loads everything into DuckDB under one run id ([`store`]), and
//! writes exports ([`export`]). [`pipeline`] orchestrates a run and decides its exit code.
//! All YAML goes through [`yaml`]; [`synth`] generates organisations for benchmarks.

pub mod bench;
pub mod catalog;
pub mod config;
pub mod export;
pub mod fakes;
pub mod grade;
pub mod migrate;
pub mod objstore;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod roi;
pub mod sources;
pub mod store;
pub mod synth;
pub mod yaml;
