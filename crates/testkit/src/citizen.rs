//! A citizen at the keyboard: an HTTP client with a cookie jar that follows
//! what a browser follows, and reads pages the way the tests need.

use std::collections::BTreeMap;
use std::sync::Arc;

use reqwest::cookie::{CookieStore as _, Jar};
use reqwest::redirect::Policy;

/// A page or redirect as received.
#[derive(Clone, Debug)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// The URL asked.
    pub url: String,
    /// `Location`, for redirects.
    pub location: Option<String>,
    /// The body.
    pub body: String,
    /// Content type.
    pub content_type: String,
    /// `Retry-After`, when the server is too busy.
    pub retry_after: Option<String>,
}

impl Response {
    /// The value of a hidden or text input by name.
    pub fn input(&self, name: &str) -> Option<String> {
        input_value(&self.body, name)
    }

    /// The parameters of the `Location` URL.
    pub fn location_params(&self) -> BTreeMap<String, String> {
        self.location
            .as_deref()
            .and_then(|location| url::Url::parse(location).ok())
            .map(|url| url.query_pairs().into_owned().collect())
            .unwrap_or_default()
    }

    /// Whether the body contains a text.
    pub fn shows(&self, text: &str) -> bool {
        self.body.contains(text)
    }
}

/// A citizen's browser.
#[derive(Debug)]
pub struct Citizen {
    http: reqwest::Client,
    jar: Arc<Jar>,
}

impl Default for Citizen {
    fn default() -> Self {
        Self::new()
    }
}

impl Citizen {
    /// A fresh browser: empty cookie jar, redirects not followed by
    /// themselves (the tests look at each one).
    pub fn new() -> Self {
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .build()
            .expect("a client with a cookie store can be built");
        Self { http, jar }
    }

    /// The value of a cookie this browser would send to `url`.
    pub fn cookie(&self, url: &str, name: &str) -> Option<String> {
        let url = url::Url::parse(url).ok()?;
        let header = self.jar.cookies(&url)?;
        header.to_str().ok()?.split("; ").find_map(|pair| {
            pair.split_once('=')
                .filter(|(key, _)| *key == name)
                .map(|(_, value)| value.to_owned())
        })
    }

    /// Puts in this browser the cookies `other` would send to `url`: what an
    /// attacker plants in a victim's browser (session fixation). All parts
    /// of a test federation share the host 127.0.0.1, hence the cookies.
    pub fn plant_cookies_of(&self, other: &Citizen, url: &str) {
        let parsed = url::Url::parse(url).expect("a URL");
        let Some(header) = other.jar.cookies(&parsed) else {
            return;
        };
        for pair in header.to_str().unwrap_or_default().split("; ") {
            self.jar.add_cookie_str(pair, &parsed);
        }
    }

    /// GET a URL.
    pub async fn get(&self, url: &str) -> Response {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .expect("the federation answers");
        read(url, response).await
    }

    /// POST a form.
    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> Response {
        let response = self
            .http
            .post(url)
            .form(form)
            .send()
            .await
            .expect("the federation answers");
        read(url, response).await
    }

    /// Follows redirects from `response` until a page, or until the
    /// redirect leaves for a URL starting with `stop_at` (returned unfollowed).
    pub async fn follow(&self, mut response: Response, stop_at: &str) -> Response {
        for _ in 0..20 {
            let Some(location) = response.location.clone() else {
                return response;
            };
            let next = absolute(&response.url, &location);
            if !stop_at.is_empty() && next.starts_with(stop_at) {
                return response;
            }
            response = self.get(&next).await;
        }
        panic!("too many redirects");
    }

    /// Opens `url` and follows its redirects as [`Citizen::follow`] does.
    pub async fn open(&self, url: &str, stop_at: &str) -> Response {
        self.follow(self.get(url).await, stop_at).await
    }

    /// From an authorize URL to the service's callback: choose `provider`,
    /// log in with `login`, accept on the consent page. Returns the last
    /// redirect (to `callback`).
    pub async fn log_in(
        &self,
        authorize: &str,
        hub: &str,
        provider: &str,
        login: &str,
        password: &str,
        callback: &str,
    ) -> Response {
        let consent = self
            .authenticate(authorize, hub, provider, login, password, callback)
            .await;
        if consent
            .location
            .as_deref()
            .is_some_and(|location| location.starts_with(callback))
        {
            return consent; // single sign-on straight through (never in these tests)
        }
        assert!(
            consent.shows("Continuer sur"),
            "consent page expected, got {}: {}",
            consent.status,
            consent.body
        );
        self.consent(hub, &consent).await
    }

    /// Follows a service's authorize URL to the hub's choice page, picks
    /// `provider`, and returns the provider's login page.
    pub async fn provider_login_page(
        &self,
        authorize: &str,
        hub: &str,
        provider: &str,
        callback: &str,
    ) -> Response {
        let choice = self.open(authorize, callback).await;
        assert_eq!(choice.status, 200, "choice page expected: {}", choice.body);
        let at_provider = self.choose(hub, &choice, provider).await;
        let login_page = self.follow(at_provider, callback).await;
        assert!(
            login_page.shows("id=\"identifier\""),
            "login page expected: {}",
            login_page.body
        );
        login_page
    }

    /// Chooses `provider` on the hub's choice page; returns the hub's answer
    /// (the redirect to the provider, or a refusal).
    pub async fn choose(&self, hub: &str, choice_page: &Response, provider: &str) -> Response {
        let csrf = choice_page
            .input("csrf")
            .expect("the choice page has a CSRF token");
        self.post(
            &format!("{hub}/interaction/choose"),
            &[("csrf", &csrf), ("provider", provider)],
        )
        .await
    }

    /// From an authorize URL through the choice page and the provider's
    /// login form, to whatever the hub shows next (consent or error page).
    pub async fn authenticate(
        &self,
        authorize: &str,
        hub: &str,
        provider: &str,
        login: &str,
        password: &str,
        callback: &str,
    ) -> Response {
        let login_page = self
            .provider_login_page(authorize, hub, provider, callback)
            .await;
        let csrf = login_page
            .input("csrf")
            .expect("the login page has a CSRF token");
        let login_url = absolute(&login_page.url, "/login");
        let submitted = self
            .post(
                &login_url,
                &[
                    ("csrf", &csrf),
                    ("identifier", login),
                    ("password", password),
                ],
            )
            .await;
        self.follow(submitted, callback).await
    }

    /// Accepts the consent page; returns the redirect to the service.
    pub async fn consent(&self, hub: &str, consent_page: &Response) -> Response {
        let csrf = consent_page
            .input("csrf")
            .expect("the consent page has a CSRF token");
        self.post(&format!("{hub}/interaction/consent"), &[("csrf", &csrf)])
            .await
    }
}

/// The value of a page's hidden or text input by name.
pub(crate) fn input_value(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    let end = body.get(start..)?.find('"')?;
    body.get(start..start + end)
        .map(|value| value.replace("&amp;", "&"))
}

/// Resolves a `Location` against the URL it came from.
pub fn absolute(base: &str, location: &str) -> String {
    url::Url::parse(base)
        .and_then(|base| base.join(location))
        .map(Into::into)
        .unwrap_or_else(|_| location.to_owned())
}

async fn read(url: &str, response: reqwest::Response) -> Response {
    let status = response.status().as_u16();
    let header = |name: reqwest::header::HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let location = header(reqwest::header::LOCATION);
    let content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();
    let retry_after = header(reqwest::header::RETRY_AFTER);
    let body = response.text().await.unwrap_or_default();
    Response {
        status,
        url: url.to_owned(),
        location,
        body,
        content_type,
        retry_after,
    }
}
