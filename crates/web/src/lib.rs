//! The shared HTTP kit of every Passerelle app: the page layout and its
//! stylesheet, sealed cookie sessions with CSRF tokens, security headers,
//! error pages with stable codes, and the provider endpoints that the hub and
//! the identity providers serve alike.

mod backchannel;
mod client;
mod constant;
mod error_page;
mod frame;
mod headers;
mod health;
mod lang;
mod layout;
mod local_path;
mod metrics;
mod op_routes;
mod qr;
pub mod rp;
mod serve;
mod session;
mod theme;

pub use backchannel::LoggedOut;
pub use client::ClientAddress;
pub use constant::Constant;
pub use error_page::{Catalogue, Entry, ErrorPage, oauth_json_error};
pub use frame::Frame;
pub use headers::{guarded, no_store, security_headers, see_other, with_cookie};
pub use health::health_routes;
pub use lang::{LANG_COOKIE, Lang, switch_language};
pub use layout::{Page, STYLESHEET, STYLESHEET_PATH, escape, no_favicon, render_page, stylesheet};
pub use local_path::{LocalPath, NotLocal};
pub use metrics::{Metrics, OAuthErrorCode, metrics_routes};
pub use op_routes::{answer_refused_authorize, check_end_session, logged_out, op_routes};
pub use qr::qr_svg;
pub use serve::{Bounds, accept, connection, serve};
pub use session::{Session, SessionError, SessionManager, cookie_value};
pub use theme::{THEME_PATH, ThemeConfig, ThemeKind, theme_routes};
