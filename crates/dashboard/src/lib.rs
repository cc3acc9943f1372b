//! The citizen dashboard: a service of the standard platform, as
//! FranceConnect's is. The citizen logs in through the hub and sees the
//! connections of the last six months, checks that the trail is intact,
//! blocks or unblocks identity providers for their own identity, and
//! reports a connection that was not theirs.
//!
//! It finds the person's trail under the `sub` the hub gives it: the hub
//! writes each connection under the person's pairwise `sub` for the
//! dashboard's entity, so the dashboard never needs the identity (it asks
//! only the first and last names, to greet). The JSON it reads and writes is
//! described in docs/dashboard.md.

use oidc::ConfigError;
use std::fmt;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jose::Alg;
use oidc::rp::{Login, RelyingParty, RpSettings};
use oidc::{Acr, Clock, RedirectUri};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::{Preferences, Revocations, Sessions, Tokens, Trace, Traces, TrailKeyRing};

mod config;
pub mod errors;
mod history;
pub mod integrity;
mod pages;
mod report;
mod routes;
mod state;
mod verification;

pub use config::Config;
pub use routes::router;
pub use state::{Dashboard, DashboardParts};

use history::*;
use pages::*;
use report::*;
use state::*;
use verification::*;

use errors::{CATALOGUE, DashboardError};

use integrity::{Finding, Head};
use web::rp::{Connection, Kept, RpApp, RpFailure, RpSide, SideSettings, SignedIn, Visit};
use web::{ErrorPage, Lang, LocalPath, Page, Session, SessionManager, see_other};
