//! SeaORM entities. These are storage models only: they never derive GraphQL
//! types, so columns such as `tenant_id` and `password_hash` cannot leak into
//! the API by accident.
pub mod activity;
pub mod contact;
pub mod contact_field_value;
pub mod contact_tag;
pub mod custom_field;
pub mod custom_field_option;
pub mod document;
pub mod event;
pub mod event_head;
pub mod exchange_rate;
pub mod import_chunk;
pub mod import_error;
pub mod import_job;
pub mod intake_key;
pub mod intake_request;
pub mod opportunity;
pub mod opportunity_change;
pub mod opportunity_contact;
pub mod opportunity_field_value;
pub mod opportunity_tag;
pub mod opportunity_team;
pub mod pipeline;
pub mod refresh_token;
pub mod saved_view;
pub mod source;
pub mod stage;
pub mod stage_change;
pub mod tag;
pub mod tenant;
pub mod user;
pub mod webhook_delivery;
pub mod webhook_endpoint;
