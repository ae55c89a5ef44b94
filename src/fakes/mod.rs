//! Local fakes of services echo-health cannot run here (GitHub), for the tests and the
//! benchmarks: faithful to `../shared/docs/contracts.md`, served on 127.0.0.1.

pub mod github;
pub mod s3;
