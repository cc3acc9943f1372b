//! The project's load tool: virtual users who log in to a service through
//! the hub, over and over, the way a browser and a service do (authorize,
//! the choice page, the provider's form, the consent page, the code
//! redeemed, the userinfo read), each login in a fresh browser.
//!
//! With `sso`, each user keeps its browser: after its first login, the
//! next ones go through the hub's single sign-on (authorize, the consent
//! page, the code, the tokens, the userinfo). Every ID token's signature
//! is checked against the hub's keys, with its issuer, audience and nonce.
//! `bin/load.rs` prints the figures of a run; the cluster test uses it too.
//!
//! It records every request that failed and why, so that a test can tell
//! the failures it expects (a hub process killed under a request, Redis or
//! PostgreSQL down) from those it must never see (a 5xx from a hub that
//! was running). A request whose answer came from the load balancer
//! itself (a connection refused or reset by a hub process, no `X-Served-By`
//! header) is sent once more; any other failure ends the login, and the
//! user starts a new one, as a person would.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::cookie::Jar;
use reqwest::redirect::Policy;

use crate::citizen::absolute;

/// What the users log in to.
#[derive(Clone, Debug)]
pub struct Target {
    /// The hub's base URL (the load balancer's).
    pub hub: String,
    /// The provider chosen on the choice page.
    pub provider: String,
    /// The logins of the accounts the users take in turn.
    pub logins: Vec<String>,
    /// Their password.
    pub password: String,
    /// The service's client id.
    pub client_id: String,
    /// Its secret (`client_secret_post`).
    pub client_secret: String,
    /// Its redirect URI (never requested: the code is read off the
    /// redirect).
    pub redirect_uri: String,
    /// Whether each user keeps its browser from one login to the next
    /// (single sign-on after the first).
    pub sso: bool,
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// No answer: connection refused or reset, timeout.
    Transport,
    /// A 5xx written by the load balancer itself (no hub answered it).
    Balancer(u16),
    /// A provider's password checks are all taken: 503 with `Retry-After`
    /// (« service très demandé »). The user waits as told and sends the
    /// form again; nothing was done with the first.
    Busy,
    /// A hub or provider said it cannot serve now: 503 and its « service
    /// indisponible » page (`temporarily_unavailable` from the API).
    Unavailable,
    /// Any other 5xx from a running process: never expected.
    Server(u16),
    /// The flow broke: a 4xx, or a page other than the one expected (a
    /// single-use step already taken by a request that never answered).
    Flow(u16),
    /// An ID token whose signature, issuer, audience or nonce is wrong.
    IdToken,
}

/// A request that failed.
#[derive(Clone, Debug)]
pub struct Failure {
    /// When, from the start of the load.
    pub at: Duration,
    /// The step of the login.
    pub step: &'static str,
    /// Why.
    pub kind: Kind,
    /// The process that answered (`X-Served-By`), when one did.
    pub served_by: Option<String>,
    /// Whether it was sent again.
    pub retried: bool,
    /// The first words of the answer.
    pub detail: String,
}

/// A login that went through.
#[derive(Clone, Debug)]
pub struct Completed {
    /// When it began, from the start of the load.
    pub started: Duration,
    /// When the service had its tokens and the userinfo.
    pub finished: Duration,
    /// The access token, to check later that the session goes on.
    pub access_token: String,
    /// The login of the account used.
    pub login: String,
}

/// What a load run saw.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The logins that went through.
    pub completed: Vec<Completed>,
    /// The logins given up (after their failure, a new one began).
    pub abandoned: usize,
    /// Every failed request.
    pub failures: Vec<Failure>,
}

impl Report {
    /// The time each completed login took, shortest first.
    pub fn latencies(&self) -> Vec<Duration> {
        let mut taken: Vec<Duration> = self
            .completed
            .iter()
            .map(|login| login.finished.saturating_sub(login.started))
            .collect();
        taken.sort();
        taken
    }

    /// The `p`-th percentile (0 to 100) of the login times.
    pub fn percentile(&self, p: u32) -> Option<Duration> {
        let taken = self.latencies();
        let last = taken.len().checked_sub(1)?;
        let rank = last * usize::try_from(p.min(100)).ok()? / 100;
        taken.get(rank).copied()
    }

    /// Logins completed between two instants of the run.
    pub fn completed_between(&self, from: Duration, to: Duration) -> usize {
        self.completed
            .iter()
            .filter(|login| login.finished >= from && login.finished < to)
            .count()
    }

    /// The first login that went through at or after `from`: how long
    /// after `from` it did.
    pub fn recovery_after(&self, from: Duration) -> Option<Duration> {
        self.completed
            .iter()
            .filter(|login| login.finished >= from)
            .map(|login| login.finished.saturating_sub(from))
            .min()
    }

    /// The last failed request (a busy provider's aside) between two
    /// instants: how long after `from` it failed.
    pub fn disrupted_after(&self, from: Duration, to: Duration) -> Option<Duration> {
        self.failures
            .iter()
            .filter(|failure| failure.kind != Kind::Busy)
            .filter(|failure| failure.at >= from && failure.at < to)
            .map(|failure| failure.at.saturating_sub(from))
            .max()
    }
}

/// A load running in the background.
#[derive(Debug)]
pub struct Load {
    started: Instant,
    stop: Arc<AtomicBool>,
    report: Arc<Mutex<Report>>,
    users: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// Starts `users` virtual users.
    pub fn start(target: Target, users: usize) -> Self {
        let started = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let report = Arc::new(Mutex::new(Report::default()));
        let target = Arc::new(target);
        let users = (0..users)
            .map(|user| {
                let user = User::new(target.clone(), started, report.clone(), user);
                let stop = stop.clone();
                tokio::spawn(async move {
                    let mut turn = 0;
                    while !stop.load(Ordering::Relaxed) {
                        if !user.log_in(turn).await {
                            // A person waits a little before trying again.
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                        turn += 1;
                    }
                })
            })
            .collect();
        Self {
            started,
            stop,
            report,
            users,
        }
    }

    /// The time since the load began.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// What was seen so far.
    pub fn report(&self) -> Report {
        self.report
            .lock()
            .map(|report| report.clone())
            .unwrap_or_default()
    }

    /// Lets every user finish the login in hand, then returns the report.
    pub async fn stop(mut self) -> Report {
        self.stop.store(true, Ordering::Relaxed);
        for user in std::mem::take(&mut self.users) {
            let _ = user.await;
        }
        self.report()
    }
}

/// A cookie jar that can be emptied: a fresh browser without a new HTTP
/// client (whose TLS set-up would cost the load tool more than the login).
#[derive(Default)]
struct Cookies(std::sync::RwLock<Jar>);

impl Cookies {
    fn forget(&self) {
        if let Ok(mut jar) = self.0.write() {
            *jar = Jar::default();
        }
    }
}

impl reqwest::cookie::CookieStore for Cookies {
    fn set_cookies(
        &self,
        headers: &mut dyn Iterator<Item = &reqwest::header::HeaderValue>,
        url: &url::Url,
    ) {
        if let Ok(jar) = self.0.read() {
            jar.set_cookies(headers, url);
        }
    }

    fn cookies(&self, url: &url::Url) -> Option<reqwest::header::HeaderValue> {
        self.0.read().ok().and_then(|jar| jar.cookies(url))
    }
}

/// The token endpoint alone (`load --tokens N`): codes minted ahead by
/// single sign-on, each user's on its own connection, then redeemed all at
/// once, so that what the server spends while they are redeemed is the
/// token endpoint's alone.
pub struct Minted {
    users: Vec<(User, reqwest::Client, Vec<Code>)>,
    /// What went wrong while minting (a busy provider at the first logins).
    pub report: Report,
}

impl std::fmt::Debug for Minted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minted")
            .field("codes", &self.count())
            .field("report", &self.report)
            .finish()
    }
}

impl Minted {
    /// Mints `codes` codes, shared among `users` users: each logs in once
    /// in full, then gets the rest by single sign-on. Every user's keys are
    /// read now, so that redeeming reads nothing but tokens. Codes live 30
    /// seconds: redeem them soon.
    pub async fn mint(mut target: Target, users: usize, codes: usize) -> Self {
        target.sso = true;
        let target = Arc::new(target);
        let started = Instant::now();
        let report = Arc::new(Mutex::new(Report::default()));
        let users = users.max(1);
        let mut minting = tokio::task::JoinSet::new();
        for index in 0..users {
            let user = User::new(target.clone(), started, report.clone(), index);
            let wanted = codes / users + usize::from(index < codes % users);
            minting.spawn(async move {
                let http = user.browser()?;
                let login = user.target.logins[index % user.target.logins.len()].clone();
                user.keys(&http).await?;
                let mut minted = Vec::with_capacity(wanted);
                let mut failed = 0;
                while minted.len() < wanted && failed < 20 {
                    match user.code(&http, &login).await {
                        Some(code) => minted.push(code),
                        None => failed += 1,
                    }
                }
                Some((user, http, minted))
            });
        }
        let mut minted = Vec::with_capacity(users);
        while let Some(user) = minting.join_next().await {
            minted.extend(user.ok().flatten());
        }
        let report = report
            .lock()
            .map(|report| report.clone())
            .unwrap_or_default();
        Self {
            users: minted,
            report,
        }
    }

    /// How many codes are ready.
    pub fn count(&self) -> usize {
        self.users.iter().map(|(_, _, codes)| codes.len()).sum()
    }

    /// Redeems every code, each user its own in turn, all users at once.
    /// Returns one completed entry per redemption whose ID token holds,
    /// and how long the redemptions took. The ID tokens are checked once
    /// the last is in, out of the time measured: a check costs this tool
    /// about as much as a redemption costs the server, so checking as they
    /// come made the tool's core, not the server, the limit.
    pub async fn redeem(self) -> (Report, Duration) {
        let started = Instant::now();
        let report = Arc::new(Mutex::new(Report::default()));
        let mut redeeming = tokio::task::JoinSet::new();
        for (mut user, http, codes) in self.users {
            user.started = started;
            user.report = report.clone();
            redeeming.spawn(async move {
                let mut answered = Vec::with_capacity(codes.len());
                for code in codes {
                    let begun = user.started.elapsed();
                    match user.exchange(&http, &code).await {
                        Some(tokens) => {
                            answered.push((begun, user.started.elapsed(), code, tokens))
                        }
                        None => user.gave_up(),
                    }
                }
                (user, http, answered)
            });
        }
        let mut answered = Vec::new();
        while let Some(user) = redeeming.join_next().await {
            answered.extend(user.ok());
        }
        let elapsed = started.elapsed();
        for (user, http, tokens) in answered {
            for (begun, finished, code, tokens) in tokens {
                match user.holds(&http, tokens, &code.nonce).await {
                    Some(access_token) => {
                        user.went_through_at(begun, finished, access_token, String::new())
                    }
                    None => user.gave_up(),
                }
            }
        }
        let report = report
            .lock()
            .map(|report| report.clone())
            .unwrap_or_default();
        (report, elapsed)
    }
}

/// A code as the service receives it, with the nonce its ID token must
/// carry.
struct Code {
    code: String,
    nonce: String,
}

/// The token endpoint's answer to a code, its ID token not yet checked.
struct Tokens {
    page: Page,
    access_token: String,
    id_token: String,
}

struct User {
    target: Arc<Target>,
    started: Instant,
    report: Arc<Mutex<Report>>,
    index: usize,
    /// The user's browser: one HTTP client (its connections kept), its
    /// cookies forgotten before each login but single sign-on ones.
    browser: Mutex<Option<(reqwest::Client, Arc<Cookies>)>>,
    /// The hub's keys, read once.
    keys: tokio::sync::OnceCell<jose::PublicKeySet>,
}

/// An answer as the load tool reads it.
struct Page {
    status: u16,
    url: String,
    location: Option<String>,
    served_by: Option<String>,
    body: String,
}

impl Page {
    fn input(&self, name: &str) -> Option<String> {
        crate::citizen::input_value(&self.body, name)
    }
}

impl User {
    fn new(
        target: Arc<Target>,
        started: Instant,
        report: Arc<Mutex<Report>>,
        index: usize,
    ) -> Self {
        Self {
            target,
            started,
            report,
            index,
            browser: Mutex::new(None),
            keys: tokio::sync::OnceCell::new(),
        }
    }

    /// One login; whether it went through.
    async fn log_in(&self, turn: usize) -> bool {
        let begun = self.started.elapsed();
        let Some(http) = self.browser() else {
            return false;
        };
        let login = &self.target.logins[(self.index + turn) % self.target.logins.len()];
        match self.flow(&http, login).await {
            Some(access_token) => {
                self.went_through(begun, access_token, login.clone());
                true
            }
            None => {
                self.gave_up();
                // The next login starts without cookies.
                if let Some((_, cookies)) = self.browser.lock().ok().and_then(|b| b.clone()) {
                    cookies.forget();
                }
                false
            }
        }
    }

    /// Records a login (or a redemption) begun at `started` that went
    /// through.
    fn went_through(&self, started: Duration, access_token: String, login: String) {
        self.went_through_at(started, self.started.elapsed(), access_token, login);
    }

    /// Records one that went through, begun at `started`, answered at
    /// `finished`.
    fn went_through_at(
        &self,
        started: Duration,
        finished: Duration,
        access_token: String,
        login: String,
    ) {
        if let Ok(mut report) = self.report.lock() {
            report.completed.push(Completed {
                started,
                finished,
                access_token,
                login,
            });
        }
    }

    /// Records a login (or a redemption) given up.
    fn gave_up(&self) {
        if let Ok(mut report) = self.report.lock() {
            report.abandoned += 1;
        }
    }

    /// The user's browser, its cookies forgotten unless in single sign-on.
    fn browser(&self) -> Option<reqwest::Client> {
        let kept = self.browser.lock().ok().and_then(|browser| browser.clone());
        if let Some((http, cookies)) = kept {
            if !self.target.sso {
                cookies.forget();
            }
            return Some(http);
        }
        let cookies = Arc::new(Cookies::default());
        let http = reqwest::Client::builder()
            .cookie_provider(cookies.clone())
            .redirect(Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .ok()?;
        if let Ok(mut browser) = self.browser.lock() {
            *browser = Some((http.clone(), cookies));
        }
        Some(http)
    }

    async fn flow(&self, http: &reqwest::Client, login: &str) -> Option<String> {
        let minted = self.code(http, login).await?;
        let access_token = self.redeem(http, &minted).await?;
        let claims = self.userinfo(http, &access_token).await?;
        (claims.status == 200).then_some(access_token)
    }

    /// The login up to the code the service receives: authorize, then the
    /// choice page, the provider's form and the consent page (only the
    /// consent page in single sign-on).
    async fn code(&self, http: &reqwest::Client, login: &str) -> Option<Code> {
        let target = &self.target;
        let hub = target.hub.trim_end_matches('/');
        let state = oidc::types::random_token(16);
        let nonce = oidc::types::random_token(16);
        let authorize = url::Url::parse_with_params(
            &format!("{hub}/api/v2/authorize"),
            [
                ("response_type", "code"),
                ("client_id", target.client_id.as_str()),
                ("redirect_uri", target.redirect_uri.as_str()),
                ("scope", "openid given_name family_name email"),
                ("acr_values", "eidas1"),
                ("state", state.as_str()),
                ("nonce", nonce.as_str()),
            ],
        )
        .ok()?;
        let first = self.follow(http, "choice", authorize.as_str()).await?;
        let consent = if is_consent(&first) {
            // Single sign-on: the hub shows the consent page at once.
            first
        } else {
            let csrf = self.expect_input(&first, "choice", "csrf")?;
            let chosen = self
                .send(
                    "choose",
                    http.post(format!("{hub}/interaction/choose"))
                        .form(&[("csrf", csrf.as_str()), ("provider", &target.provider)]),
                )
                .await?;
            let form = self.follow_from(http, "provider", chosen).await?;
            if is_consent(&form) {
                // A provider that asks for nothing ([`crate::InstantProvider`]).
                form
            } else {
                let csrf = self.expect_input(&form, "provider", "csrf")?;
                let submitted = self
                    .send(
                        "password",
                        http.post(absolute(&form.url, "/login")).form(&[
                            ("csrf", csrf.as_str()),
                            ("identifier", login),
                            ("password", target.password.as_str()),
                        ]),
                    )
                    .await?;
                self.follow_from(http, "callback", submitted).await?
            }
        };
        let csrf = self.expect_input(&consent, "consent", "csrf")?;
        let back = self
            .send(
                "consent",
                http.post(format!("{hub}/interaction/consent"))
                    .form(&[("csrf", csrf.as_str())]),
            )
            .await?;
        let code = back
            .location
            .as_deref()
            .filter(|location| location.starts_with(&target.redirect_uri))
            .and_then(|location| url::Url::parse(location).ok())
            .and_then(|url| {
                let params: std::collections::HashMap<String, String> =
                    url.query_pairs().into_owned().collect();
                (params.get("state") == Some(&state))
                    .then(|| params.get("code").cloned())
                    .flatten()
            });
        let Some(code) = code else {
            self.fail("consent", &back, Kind::Flow(back.status), false);
            return None;
        };
        Some(Code { code, nonce })
    }

    /// The code redeemed at the token endpoint, as the service does, and
    /// the ID token checked; returns the access token.
    async fn redeem(&self, http: &reqwest::Client, minted: &Code) -> Option<String> {
        let tokens = self.exchange(http, minted).await?;
        self.holds(http, tokens, &minted.nonce).await
    }

    /// The code exchanged at the token endpoint: the answer, when it
    /// carries an access token.
    async fn exchange(&self, http: &reqwest::Client, minted: &Code) -> Option<Tokens> {
        let target = &self.target;
        let hub = target.hub.trim_end_matches('/');
        let page = self
            .send(
                "token",
                http.post(format!("{hub}/api/v2/token")).form(&[
                    ("grant_type", "authorization_code"),
                    ("code", minted.code.as_str()),
                    ("redirect_uri", target.redirect_uri.as_str()),
                    ("client_id", target.client_id.as_str()),
                    ("client_secret", target.client_secret.as_str()),
                ]),
            )
            .await?;
        let answer = serde_json::from_str::<serde_json::Value>(&page.body).ok();
        let access_token = answer
            .as_ref()
            .and_then(|tokens| tokens["access_token"].as_str().map(str::to_owned));
        let Some(access_token) = access_token.filter(|_| page.status == 200) else {
            self.fail("token", &page, Kind::Flow(page.status), false);
            return None;
        };
        let id_token = answer
            .as_ref()
            .and_then(|tokens| tokens["id_token"].as_str())
            .unwrap_or_default()
            .to_owned();
        Some(Tokens {
            page,
            access_token,
            id_token,
        })
    }

    /// The access token of an answer whose ID token holds for the login
    /// that carried `nonce`.
    async fn holds(&self, http: &reqwest::Client, tokens: Tokens, nonce: &str) -> Option<String> {
        if !self.id_token_holds(http, &tokens.id_token, nonce).await {
            self.fail("id_token", &tokens.page, Kind::IdToken, false);
            return None;
        }
        Some(tokens.access_token)
    }

    /// Whether an ID token is the hub's, for this service and this login:
    /// its signature (the hub's keys read once, again for an unknown key),
    /// issuer, audience and nonce.
    async fn id_token_holds(&self, http: &reqwest::Client, id_token: &str, nonce: &str) -> bool {
        let hub = self.target.hub.trim_end_matches('/');
        let Some(keys) = self.keys(http).await else {
            return false;
        };
        let claims = match jose::verify(id_token, keys, &[jose::Alg::ES256, jose::Alg::RS256]) {
            Err(jose::JoseError::UnknownKey(_)) => match self.fetch_keys(http).await {
                Some(fresh) => {
                    jose::verify(id_token, &fresh, &[jose::Alg::ES256, jose::Alg::RS256])
                }
                None => return false,
            },
            verified => verified,
        };
        claims.is_ok_and(|claims| {
            claims.get("iss").and_then(serde_json::Value::as_str) == Some(&format!("{hub}/api/v2"))
                && claims.get("aud").and_then(serde_json::Value::as_str)
                    == Some(self.target.client_id.as_str())
                && claims.get("nonce").and_then(serde_json::Value::as_str) == Some(nonce)
        })
    }

    /// The hub's keys, read once.
    async fn keys(&self, http: &reqwest::Client) -> Option<&jose::PublicKeySet> {
        self.keys
            .get_or_try_init(|| async { self.fetch_keys(http).await.ok_or(()) })
            .await
            .ok()
    }

    async fn fetch_keys(&self, http: &reqwest::Client) -> Option<jose::PublicKeySet> {
        let hub = self.target.hub.trim_end_matches('/');
        let text = http
            .get(format!("{hub}/api/v2/jwks"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        jose::PublicKeySet::from_json(&text).ok()
    }

    /// Reads the userinfo with an access token.
    async fn userinfo(&self, http: &reqwest::Client, access_token: &str) -> Option<Page> {
        let hub = self.target.hub.trim_end_matches('/');
        let page = self
            .send(
                "userinfo",
                http.get(format!("{hub}/api/v2/userinfo"))
                    .bearer_auth(access_token),
            )
            .await?;
        if page.status != 200 {
            self.fail("userinfo", &page, Kind::Flow(page.status), false);
            return None;
        }
        Some(page)
    }

    /// GETs a URL, then follows its redirects to a page.
    async fn follow(&self, http: &reqwest::Client, step: &'static str, url: &str) -> Option<Page> {
        let first = self.send(step, http.get(url)).await?;
        self.follow_from(http, step, first).await
    }

    async fn follow_from(
        &self,
        http: &reqwest::Client,
        step: &'static str,
        mut page: Page,
    ) -> Option<Page> {
        for _ in 0..10 {
            let Some(location) = page.location.clone() else {
                return Some(page);
            };
            let next = absolute(&page.url, &location);
            page = self.send(step, http.get(&next)).await?;
        }
        self.fail(step, &page, Kind::Flow(page.status), false);
        None
    }

    fn expect_input(&self, page: &Page, step: &'static str, name: &str) -> Option<String> {
        let value = page.input(name).filter(|_| page.status == 200);
        if value.is_none() {
            self.fail(step, page, Kind::Flow(page.status), false);
        }
        value
    }

    /// Sends a request; a failure the load balancer reports for a dead
    /// process is sent once more. Returns the answer, or `None` (recorded)
    /// when the login cannot go on.
    async fn send(&self, step: &'static str, request: reqwest::RequestBuilder) -> Option<Page> {
        let mut request = request;
        // A busy provider is asked again as often as it says to wait; a
        // process that did not answer, once.
        let mut busy = 0;
        let mut resent = false;
        loop {
            let again = request.try_clone();
            let (kind, page) = match self.attempt(request).await {
                Ok(page) => return Some(page),
                Err(failure) => failure,
            };
            let retry = match kind {
                Kind::Busy => {
                    busy += 1;
                    busy <= 20
                }
                Kind::Transport | Kind::Balancer(_) => !std::mem::replace(&mut resent, true),
                _ => false,
            };
            let retry = retry && again.is_some();
            self.record(step, kind.clone(), page.as_ref(), retry);
            request = again.filter(|_| retry)?;
            let wait = match kind {
                Kind::Busy => Duration::from_millis(500),
                _ => Duration::from_millis(100),
            };
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Page, (Kind, Option<Page>)> {
        let Ok(response) = request.send().await else {
            return Err((Kind::Transport, None));
        };
        let status = response.status().as_u16();
        let url = response.url().to_string();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let location = header("location");
        let served_by = header("x-served-by");
        let retry_after = header("retry-after");
        let Ok(body) = response.text().await else {
            return Err((Kind::Transport, None));
        };
        let page = Page {
            status,
            url,
            location,
            served_by,
            body,
        };
        let through_balancer = page.url.starts_with(&self.target.hub);
        match status {
            503 if retry_after.is_some() => Err((Kind::Busy, Some(page))),
            503 if page.body.contains("indisponible")
                || page.body.contains("temporarily_unavailable") =>
            {
                Err((Kind::Unavailable, Some(page)))
            }
            500.. if through_balancer && page.served_by.is_none() => {
                Err((Kind::Balancer(status), Some(page)))
            }
            500.. => Err((Kind::Server(status), Some(page))),
            _ => Ok(page),
        }
    }

    fn fail(&self, step: &'static str, page: &Page, kind: Kind, retried: bool) {
        self.record(step, kind, Some(page), retried);
    }

    fn record(&self, step: &'static str, kind: Kind, page: Option<&Page>, retried: bool) {
        let failure = Failure {
            at: self.started.elapsed(),
            step,
            kind,
            served_by: page.and_then(|page| page.served_by.clone()),
            retried,
            detail: page
                .map(|page| page.body.chars().take(300).collect())
                .unwrap_or_default(),
        };
        if let Ok(mut report) = self.report.lock() {
            report.failures.push(failure);
        }
    }
}

/// Whether a page is the hub's consent page.
fn is_consent(page: &Page) -> bool {
    page.body.contains("action=\"/interaction/consent\"")
}

/// Checks that each access token still reads the userinfo: the sessions
/// went on. Returns the tokens refused, with the status they got.
pub async fn sessions_refused(hub: &str, access_tokens: &[String]) -> Vec<(String, u16)> {
    let http = reqwest::Client::new();
    let url = format!("{}/api/v2/userinfo", hub.trim_end_matches('/'));
    let mut asked = tokio::task::JoinSet::new();
    for token in access_tokens {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        asked.spawn(async move {
            let status = http
                .get(&url)
                .bearer_auth(&token)
                .send()
                .await
                .map_or(0, |response| response.status().as_u16());
            (token.chars().take(8).collect::<String>(), status)
        });
    }
    let mut refused = Vec::new();
    while let Some(answer) = asked.join_next().await {
        match answer {
            Ok((_, 200)) => {}
            Ok(refusal) => refused.push(refusal),
            Err(_) => refused.push(("(task)".to_owned(), 0)),
        }
    }
    refused
}

/// What `/proc/PID/stat` (Linux) says of a process's CPU: its parent,
/// its own ticks (utime + stime) and those of its children that ended
/// (cutime + cstime).
struct ProcStat {
    parent: u32,
    own: f64,
    reaped: f64,
}

fn proc_stat(pid: u32) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: count fields after its `)`.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |index: usize| fields.get(index)?.parse::<f64>().ok();
    Some(ProcStat {
        parent: fields.get(1)?.parse().ok()?,
        own: field(11)? + field(12)?,
        reaped: field(13)? + field(14)?,
    })
}

/// utime + stime of a process (Linux), in seconds.
pub fn process_cpu_seconds(pid: u32) -> Option<f64> {
    Some(proc_stat(pid)?.own / clock_ticks())
}

/// The CPU time of a process and its children (Linux), in seconds: its
/// own, its children's that ended (reaped), and its running children's.
/// PostgreSQL's postmaster and its backends, say.
pub fn process_tree_cpu_seconds(pid: u32) -> Option<f64> {
    let root = proc_stat(pid)?;
    let mut ticks = root.own + root.reaped;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let child = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse().ok());
        if let Some(child) = child.and_then(proc_stat)
            && child.parent == pid
        {
            ticks += child.own + child.reaped;
        }
    }
    Some(ticks / clock_ticks())
}

/// The machine's busy CPU time since boot (Linux), all cores, in seconds:
/// everything but idle and I/O wait.
pub fn machine_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<f64> = cpu
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let idle = ticks.get(3)? + ticks.get(4)?;
    Some((ticks.iter().take(8).sum::<f64>() - idle) / clock_ticks())
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .unwrap_or(100.0)
}

/// The peak resident memory of a process (Linux), in MiB.
pub fn process_peak_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
