//! The API test suite: one binary, a helper module and a file per area.
//! Every test runs against the real server over HTTP, on SQLite and, when
//! TEST_DATABASE_URL is set, on PostgreSQL too.
// Test code: panicking on a missing JSON field or a bad index is the
// failure report, and counts are small; the production lints stop here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod helpers;

mod accounts;
mod activities;
mod analytics;
mod archiving;
mod binary;
mod bulk;
mod contacts;
mod custom_sort;
mod depth_limits;
mod event_log;
mod export;
mod field_errors;
mod hardening;
mod http_layer;
mod import_batches;
mod import_checks;
mod imports;
mod intake;
mod isolation;
mod limits;
mod n_plus_one;
mod opportunities;
mod pipelines;
mod plans;
mod saved_views;
mod schema_file;
mod seed;
mod subscriptions;
mod tags_fields;
mod tokens;
mod webhook_receiver;
mod webhooks;
