//! Domain modules, in dependency order: account < pipeline < contact <
//! opportunity < activity < {intake, analytics, onboarding, webhook}. Each writes only its own
//! tables; others call its `*_in` commands.
pub mod account;
pub mod activity;
pub mod analytics;
pub mod contact;
pub mod intake;
pub mod onboarding;
pub mod opportunity;
pub mod pipeline;
pub mod webhook;
