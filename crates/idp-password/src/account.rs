//! The account holder's own pages: the account page (after a login to the
//! provider itself), the change of email address, the forgotten password,
//! and the unlock link.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use store::{Account, AccountStatus};
use web::{ClientAddress, Lang, Session, see_other};

use crate::errors::IdpError;
use crate::form::{Field, Form, message};
use crate::login::{canonical, identifier_field};
use crate::one_time::{self, Purpose};
use crate::password;
use crate::profile::Profile;
use crate::session::{self, IdpSession, field};
use crate::signup::{Problem, TokenQuery, dead_link, use_link};
use crate::{PasswordProvider, mails};

/// Reset mails per identifier and hour: more would let anyone flood an
/// inbox.
const RESETS_PER_HOUR: u32 = 3;

async fn logged_in(
    idp: &PasswordProvider,
    headers: &HeaderMap,
) -> Result<(Session<IdpSession>, Account), IdpError> {
    let session = idp
        .sessions
        .load::<IdpSession>(headers)
        .await?
        .ok_or(IdpError::NotLoggedIn)?;
    let account = account_of(idp, &session).await?;
    Ok((session, account))
}

/// The active account logged in to this session.
async fn account_of(
    idp: &PasswordProvider,
    session: &Session<IdpSession>,
) -> Result<Account, IdpError> {
    let id = session
        .data
        .account_id
        .as_deref()
        .ok_or(IdpError::NotLoggedIn)?;
    idp.stores
        .accounts
        .find_by_id(id)
        .await?
        .filter(|account| account.status == AccountStatus::Active)
        .ok_or(IdpError::NotLoggedIn)
}

/// `GET /compte`.
pub async fn page(
    State(idp): State<Arc<PasswordProvider>>,
    headers: HeaderMap,
) -> Result<Response, IdpError> {
    let (session, account) = logged_in(&idp, &headers).await?;
    let lang = session.data.lang(&headers);
    let identity = Profile::read(&account)?.identity;
    let mut form = Form::new(
        lang,
        lang.pick("Mon espace", "My account"),
        "/compte/deconnexion",
        session.csrf_token(),
        lang.pick("Se déconnecter", "Log out"),
    );
    form.lead = vec![
        format!(
            "{} {} {}",
            lang.pick("Bonjour", "Hello"),
            identity.given_name,
            identity.family_name
        ),
        format!(
            "{} {}",
            lang.pick("Identifiant :", "Identifier:"),
            account.login
        ),
        format!(
            "{} {}",
            lang.pick("Adresse électronique :", "Email address:"),
            account.email
        ),
    ];
    form.links = vec![
        (
            "/compte/courriel".into(),
            lang.pick("Changer d'adresse électronique", "Change my email address")
                .into(),
        ),
        (
            "/mot-de-passe-oublie".into(),
            lang.pick("Changer de mot de passe", "Change my password")
                .into(),
        ),
    ];
    Ok(form.render(&idp.config.name))
}

/// `POST /compte/deconnexion`.
pub async fn logout(
    State(idp): State<Arc<PasswordProvider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, IdpError> {
    let (session, _) = session::posted(&idp, &headers, &body).await?;
    let cookie = idp.sessions.destroy(&session).await?;
    Ok(see_other("/login", Some(cookie)))
}

// ---------------------------------------------------------------- email

fn email_form(session: &Session<IdpSession>, lang: Lang, typed: Option<&[String; 2]>) -> Form {
    let mut form = Form::new(
        lang,
        lang.pick("Changer d'adresse électronique", "Change my email address"),
        "/compte/courriel",
        session.csrf_token(),
        lang.pick(
            "Envoyer le lien de confirmation",
            "Send the confirmation link",
        ),
    );
    form.lead.push(
        lang.pick(
            "La nouvelle adresse servira quand vous aurez ouvert le lien que nous y enverrons.",
            "The new address will be used once you open the link we send to it.",
        )
        .into(),
    );
    let [email, confirmation] = typed.cloned().unwrap_or_default();
    form.fields = vec![
        Field::text(
            "email",
            lang.pick("Nouvelle adresse électronique", "New email address"),
            "email",
            "email",
        )
        .hint(lang.pick("Format attendu : nom@domaine.fr", "Format: name@domain.fr"))
        .value(&email),
        Field::text(
            "email_confirmation",
            lang.pick("La même, à nouveau", "The same, again"),
            "email",
            "email",
        )
        .value(&confirmation),
        Field::password(
            "password",
            lang.pick("Mot de passe actuel", "Current password"),
            "current-password",
        ),
    ];
    form.links.push((
        "/compte".into(),
        lang.pick("Retour à mon espace", "Back to my account")
            .into(),
    ));
    form
}

/// `GET /compte/courriel`.
pub async fn email_page(
    State(idp): State<Arc<PasswordProvider>>,
    headers: HeaderMap,
) -> Result<Response, IdpError> {
    let (session, _) = logged_in(&idp, &headers).await?;
    let lang = session.data.lang(&headers);
    Ok(email_form(&session, lang, None).render(&idp.config.name))
}

/// What an email-change link stands for.
#[derive(Debug, Serialize, Deserialize)]
struct EmailChange {
    account_id: String,
    email: String,
}

/// `POST /compte/courriel`.
pub async fn change_email(
    State(idp): State<Arc<PasswordProvider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, IdpError> {
    let (session, form) = session::posted(&idp, &headers, &body).await?;
    let account = account_of(&idp, &session).await?;
    let lang = session.data.lang(&headers);
    let email = field(&form, "email").to_lowercase();
    let typed = [field(&form, "email"), field(&form, "email_confirmation")];
    let password_ok = idp
        .hasher
        .verify_on_pool(
            form.get("password").unwrap_or_default().to_owned(),
            account.password_hash.clone(),
        )
        .await?;
    let problem: Option<(Option<&'static str>, String)> = if !oidc::claims::is_email(&email) {
        Some((Some("email"), Problem::Email.text(lang)))
    } else if email != field(&form, "email_confirmation").to_lowercase() {
        Some((Some("email"), Problem::EmailMismatch.text(lang)))
    } else if !password_ok {
        Some((
            Some("password"),
            lang.pick("Mot de passe incorrect.", "Wrong password.")
                .into(),
        ))
    } else {
        None
    };
    if let Some(error) = problem {
        let mut page = email_form(&session, lang, Some(&typed));
        page.error = Some(error);
        return Ok(page.render(&idp.config.name));
    }
    let change = EmailChange {
        account_id: account.id.clone(),
        email: email.clone(),
    };
    let token = one_time::issue(
        idp.stores.codes.as_ref(),
        Purpose::EmailChange,
        &change,
        idp.clock.now(),
    )
    .await?;
    mails::send(
        &idp,
        &email,
        mails::confirm_email(
            &idp.config.name,
            &idp.link("/courriel/confirmation", &token),
        ),
    )
    .await;
    mails::send(
        &idp,
        &account.email,
        mails::email_change_asked(&idp.config.name, &email),
    )
    .await;
    Ok(message(
        lang,
        &idp.config.name,
        lang.pick("Confirmez la nouvelle adresse", "Confirm the new address"),
        &[lang.pick(
            "Un lien de confirmation vient d'être envoyé à la nouvelle adresse ; il est valable 24 heures. Votre adresse actuelle en est informée.",
            "A confirmation link has just been sent to the new address; it is valid 24 hours. Your current address is told about it.",
        )],
        &[("/compte", lang.pick("Retour à mon espace", "Back to my account"))],
    ))
}

/// The page a mailed link opens: one button that posts its token.
async fn link_page(
    idp: &PasswordProvider,
    headers: &HeaderMap,
    token: &str,
    action: &str,
    [title_fr, title_en]: [&str; 2],
    [submit_fr, submit_en]: [&str; 2],
) -> Result<Response, IdpError> {
    let session = session::load(idp, headers).await?;
    let lang = session.data.lang(headers);
    let form = Form::link_button(
        lang,
        lang.pick(title_fr, title_en),
        action,
        session.csrf_token(),
        lang.pick(submit_fr, submit_en),
        token,
    );
    session::respond(idp, &session, form.render(&idp.config.name)).await
}

/// `GET /courriel/confirmation?jeton=`.
pub async fn confirm_email_page(
    State(idp): State<Arc<PasswordProvider>>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, IdpError> {
    link_page(
        &idp,
        &headers,
        &query.jeton,
        "/courriel/confirmation",
        ["Confirmer la nouvelle adresse", "Confirm the new address"],
        ["Confirmer", "Confirm"],
    )
    .await
}

/// `POST /courriel/confirmation`.
pub async fn confirm_email(
    State(idp): State<Arc<PasswordProvider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, IdpError> {
    let (session, form) = session::posted(&idp, &headers, &body).await?;
    let lang = session.data.lang(&headers);
    let again = (
        "/compte/courriel",
        lang.pick("Changer d'adresse électronique", "Change my email address"),
    );
    let change = match use_link::<EmailChange>(
        &idp,
        Purpose::EmailChange,
        &field(&form, "jeton"),
        lang,
        again,
    )
    .await?
    {
        Ok(value) => value,
        Err(page) => return Ok(page),
    };
    let Some(mut account) = idp.stores.accounts.find_by_id(&change.account_id).await? else {
        return Ok(dead_link(&idp, lang, false, again));
    };
    let mut profile = Profile::read(&account)?;
    profile.identity.email = change.email.clone();
    account.identity = profile.to_json()?;
    account.email = change.email;
    idp.stores.accounts.update(&account).await?;
    tracing::info!(provider = %idp.config.id, "email address changed");
    Ok(message(
        lang,
        &idp.config.name,
        lang.pick("Adresse électronique changée", "Email address changed"),
        &[lang.pick(
            "Votre nouvelle adresse est enregistrée.",
            "Your new address is saved.",
        )],
        &[("/compte", lang.pick("Mon espace", "My account"))],
    ))
}

// ---------------------------------------------------------------- reset

fn forgot_form(idp: &PasswordProvider, session: &Session<IdpSession>, lang: Lang) -> Form {
    let mut form = Form::new(
        lang,
        lang.pick("Mot de passe oublié", "Forgotten password"),
        "/mot-de-passe-oublie",
        session.csrf_token(),
        lang.pick("Recevoir un lien", "Get a link"),
    );
    form.lead.push(lang.pick(
        "Indiquez votre identifiant : si un compte lui correspond, un lien pour choisir un nouveau mot de passe sera envoyé à son adresse électronique.",
        "Type your identifier: if an account has it, a link to choose a new password will be sent to its email address.",
    ).into());
    form.fields = vec![identifier_field(idp.config.login, lang)];
    form
}

/// `GET /mot-de-passe-oublie`.
pub async fn forgot_page(
    State(idp): State<Arc<PasswordProvider>>,
    headers: HeaderMap,
) -> Result<Response, IdpError> {
    let session = session::load(&idp, &headers).await?;
    let lang = session.data.lang(&headers);
    let page = forgot_form(&idp, &session, lang).render(&idp.config.name);
    session::respond(&idp, &session, page).await
}

/// What a reset link stands for.
#[derive(Debug, Serialize, Deserialize)]
struct ResetLink {
    account_id: String,
    fingerprint: String,
}

/// `POST /mot-de-passe-oublie`: the same answer whether or not an account
/// has the identifier.
pub async fn forgot(
    State(idp): State<Arc<PasswordProvider>>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, IdpError> {
    let (session, form) = session::posted(&idp, &headers, &body).await?;
    let lang = session.data.lang(&headers);
    let identifier = canonical(idp.config.login, form.get("identifier").unwrap_or_default());
    let now = idp.clock.now();
    let key = crate::throttle::hashed("reset-mails", &identifier);
    let blocked = idp.throttle.address_blocked(&address, now).await?;
    let within = idp
        .stores
        .rate_limits
        .within(&key, RESETS_PER_HOUR, 3_600, now)
        .await?;
    if !blocked && within {
        let account = idp.stores.accounts.find_by_login(&identifier).await?;
        if let Some(account) = account.filter(|account| account.status != AccountStatus::Locked) {
            let link = ResetLink {
                account_id: account.id.clone(),
                fingerprint: one_time::fingerprint(&account.password_hash),
            };
            let token =
                one_time::issue(idp.stores.codes.as_ref(), Purpose::Reset, &link, now).await?;
            mails::send(
                &idp,
                &account.email,
                mails::reset(&idp.config.name, &idp.link("/mot-de-passe/nouveau", &token)),
            )
            .await;
        }
    }
    Ok(message(
        lang,
        &idp.config.name,
        lang.pick("Consultez votre messagerie", "Check your mailbox"),
        &[lang.pick(
            "Si un compte correspond à cet identifiant, un courriel vient d'être envoyé à son adresse. Son lien est valable une heure et ne sert qu'une fois.",
            "If an account has this identifier, an email has just been sent to its address. Its link is valid one hour and works once.",
        )],
        &[("/login", lang.pick("Me connecter", "Log in"))],
    ))
}

fn reset_form(session: &Session<IdpSession>, lang: Lang, token: &str) -> Form {
    let [password, confirmation] =
        Field::new_password(lang, lang.pick("Nouveau mot de passe", "New password"));
    let mut form = Form::new(
        lang,
        lang.pick("Choisir un nouveau mot de passe", "Choose a new password"),
        "/mot-de-passe/nouveau",
        session.csrf_token(),
        lang.pick("Enregistrer", "Save"),
    );
    form.fields = vec![Field::hidden("jeton", token), password, confirmation];
    form
}

/// `GET /mot-de-passe/nouveau?jeton=`.
pub async fn reset_page(
    State(idp): State<Arc<PasswordProvider>>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, IdpError> {
    let session = session::load(&idp, &headers).await?;
    let lang = session.data.lang(&headers);
    let page = reset_form(&session, lang, &query.jeton).render(&idp.config.name);
    session::respond(&idp, &session, page).await
}

/// `POST /mot-de-passe/nouveau`.
pub async fn reset(
    State(idp): State<Arc<PasswordProvider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, IdpError> {
    let (session, form) = session::posted(&idp, &headers, &body).await?;
    let lang = session.data.lang(&headers);
    let token = field(&form, "jeton");
    let new_password = form.get("password").unwrap_or_default().to_owned();
    if let Err(weakness) = password::check_new(
        &new_password,
        form.get("password_confirmation").unwrap_or_default(),
    ) {
        let mut page = reset_form(&session, lang, &token);
        Problem::Password(weakness).on(&mut page);
        return Ok(page.render(&idp.config.name));
    }
    let again = (
        "/mot-de-passe-oublie",
        lang.pick("Demander un nouveau lien", "Ask for a new link"),
    );
    let link = match use_link::<ResetLink>(&idp, Purpose::Reset, &token, lang, again).await? {
        Ok(value) => value,
        Err(page) => return Ok(page),
    };
    let account = idp
        .stores
        .accounts
        .find_by_id(&link.account_id)
        .await?
        .filter(|account| one_time::fingerprint(&account.password_hash) == link.fingerprint);
    let Some(mut account) = account else {
        return Ok(dead_link(&idp, lang, false, again));
    };
    account.password_hash = idp.hasher.hash_on_pool(new_password).await?;
    // The link went to the account's address: it proves it, as the
    // activation link would have.
    if account.status == AccountStatus::Pending {
        account.status = AccountStatus::Active;
    }
    idp.stores.accounts.update(&account).await?;
    idp.throttle.unlock(&account.login).await?;
    mails::send(
        &idp,
        &account.email,
        mails::password_changed(&idp.config.name, &idp.config.public_url),
    )
    .await;
    tracing::info!(provider = %idp.config.id, "password reset");
    Ok(message(
        lang,
        &idp.config.name,
        lang.pick("Mot de passe enregistré", "Password saved"),
        &[lang.pick(
            "Votre nouveau mot de passe est enregistré.",
            "Your new password is saved.",
        )],
        &[("/login", lang.pick("Me connecter", "Log in"))],
    ))
}

// ---------------------------------------------------------------- unlock

/// `GET /deverrouillage?jeton=`.
pub async fn unlock_page(
    State(idp): State<Arc<PasswordProvider>>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, IdpError> {
    link_page(
        &idp,
        &headers,
        &query.jeton,
        "/deverrouillage",
        ["Débloquer votre compte", "Unlock your account"],
        ["Débloquer mon compte", "Unlock my account"],
    )
    .await
}

/// `POST /deverrouillage`.
pub async fn unlock(
    State(idp): State<Arc<PasswordProvider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, IdpError> {
    let (session, form) = session::posted(&idp, &headers, &body).await?;
    let lang = session.data.lang(&headers);
    let again = (
        "/mot-de-passe-oublie",
        lang.pick("Choisir un nouveau mot de passe", "Choose a new password"),
    );
    let identifier =
        match use_link::<String>(&idp, Purpose::Unlock, &field(&form, "jeton"), lang, again).await?
        {
            Ok(value) => value,
            Err(page) => return Ok(page),
        };
    idp.throttle.unlock(&identifier).await?;
    tracing::info!(provider = %idp.config.id, "account unlocked");
    Ok(message(
        lang,
        &idp.config.name,
        lang.pick("Compte débloqué", "Account unlocked"),
        &[lang.pick(
            "Vous pouvez de nouveau vous connecter.",
            "You can log in again.",
        )],
        &[("/login", lang.pick("Me connecter", "Log in"))],
    ))
}
