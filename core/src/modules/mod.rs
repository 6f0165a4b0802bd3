//! Domain modules, in dependency order: account < pipeline < {tag, custom_field} < contact <
//! opportunity < activity < {intake, analytics, onboarding, webhook}. Each writes only its own
//! tables; others call its `*_in` commands.
pub mod account;
pub mod activity;
pub mod analytics;
pub mod contact;
pub mod custom_field;
pub mod export;
pub mod import;
pub mod intake;
pub mod onboarding;
pub mod opportunity;
pub mod pipeline;
pub mod saved_view;
pub mod tag;
pub mod webhook;
