//! Server-rendered HTML pages (maud). Handlers here parse the request, call `crate::actions`,
//! and render; they hold no business rules of their own.

pub mod account;
pub mod admin;
pub mod agreement;
pub mod case;
pub mod caseload;
pub mod charts;
pub mod client_goals;
pub mod goals;
pub mod instruments;
pub mod layout;
pub mod link;
pub mod live;
pub mod login;
pub mod monitoring;
pub mod questionnaire;
pub mod response;
pub mod supervision;
pub mod timeline;
pub mod transcripts;
