//! Account creation, as each administration runs it:
//!
//! - impots.gouv ([`SignupKind::Tax`]): the three identifiers of the tax
//!   records → email twice, password twice, optional mobile → the "zéro
//!   papier" preferences, pre-checked → a 6-digit code by text message
//!   when a mobile was given → an activation link by email (24 h, once);
//! - ameli, MSA ([`SignupKind::Health`]): the NIR, its key and the birth
//!   date of the health records → email twice, secret code twice → the
//!   activation link;
//! - ANTS ([`SignupKind::Form`]): profile, surname, first name, email, the
//!   captcha, the terms → the activation link, which opens "Vous y êtes
//!   presque": password, secret question, birth details → logged in, and a
//!   second email gives the identifier assigned.
//!
//! Every step checks what it is given and says what is wrong in its own
//! words; nothing is written before the last step. The records' answer
//! never tells whether a number exists, and a creation for a person who
//! already has an account ends, on screen, like any other: the mail tells
//! the address typed that an account exists.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use oidc::Identity;
use oidc::op::Params;
use population::cog;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use store::{Account, AccountStatus, StoreError};
use web::{ClientAddress, Lang, Session, see_other};

use crate::config::{LoginKind, SignupKind};
use crate::errors::IdpError;
use crate::form::{Field, Form, Kind, message};
use crate::login::password_label;
use crate::one_time::{self, Purpose, Redeemed};
use crate::password::{self, Weakness};
use crate::profile::{Paperless, Profile, SecretQuestion};
use crate::registry::{Refusal, parse_date};
use crate::session::{self, IdpSession, Signup, SmsCode, field};
use crate::sms::{Sms, french_mobile};
use crate::throttle::{Failure, Verdict};
use crate::{PasswordProvider, mails, seed};

/// The secret questions of an ANTS-style account.
pub const QUESTIONS: [[&str; 2]; 4] = [
    [
        "Quel est le nom de votre premier animal de compagnie ?",
        "What was the name of your first pet?",
    ],
    [
        "Dans quelle ville vos parents se sont-ils rencontrés ?",
        "In which town did your parents meet?",
    ],
    [
        "Quel était le nom de votre école primaire ?",
        "What was the name of your primary school?",
    ],
    [
        "Quel est le prénom de votre meilleur ami d'enfance ?",
        "What is the first name of your best childhood friend?",
    ],
];

/// Wrong SMS codes allowed.
const SMS_ATTEMPTS: u8 = 3;
/// How long an SMS code lives.
const SMS_LIFETIME_SECS: i64 = 600;

/// What is wrong with a step, besides the records' refusals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The records refused.
    Records(Refusal),
    /// Too many refused attempts for this number, or from this address.
    TooManyAttempts,
    /// Not "Particulier".
    Profile,
    /// No surname.
    FamilyName,
    /// No first name.
    GivenName,
    /// Not an email address.
    Email,
    /// The two addresses differ.
    EmailMismatch,
    /// A password rule.
    Password(Weakness),
    /// Not a French mobile number.
    Mobile,
    /// The captcha was not copied right.
    Captcha,
    /// The terms were not accepted.
    Terms,
    /// The SMS code is not 6 digits.
    CodeShape,
    /// The SMS code is wrong; this many attempts are left.
    CodeWrong(u8),
    /// No secret question chosen.
    Question,
    /// The answer is too short.
    Answer,
    /// The birth date is not a past date.
    Birthdate,
    /// Neither female nor male.
    Gender,
    /// An unknown country.
    Country,
    /// Born in France, and no commune chosen.
    Commune,
    /// The text message could not be sent.
    SmsFailed,
}

impl Problem {
    /// The field in error.
    fn field(self) -> &'static str {
        match self {
            Problem::Records(Refusal::TaxNumberShape | Refusal::NoMatch) => "tax_number",
            Problem::Records(Refusal::AccessNumberShape) => "access_number",
            Problem::Records(Refusal::IncomeShape) => "income",
            Problem::Records(Refusal::NirShape | Refusal::KeyMismatch) => "nir",
            Problem::Records(Refusal::KeyShape) => "key",
            Problem::Records(Refusal::BirthdateShape) | Problem::Birthdate => "birthdate",
            Problem::TooManyAttempts => "",
            Problem::Profile => "profile",
            Problem::FamilyName => "family_name",
            Problem::GivenName => "given_name",
            Problem::Email | Problem::EmailMismatch => "email",
            Problem::Password(_) => "password",
            Problem::Mobile | Problem::SmsFailed => "mobile",
            Problem::Captcha => "captcha",
            Problem::Terms => "terms",
            Problem::CodeShape | Problem::CodeWrong(_) => "code",
            Problem::Question => "question",
            Problem::Answer => "answer",
            Problem::Gender => "gender",
            Problem::Country => "birthcountry",
            Problem::Commune => "birthplace",
        }
    }

    /// What the citizen reads.
    pub fn text(self, lang: Lang) -> String {
        let pick = |fr: &str, en: &str| lang.pick(fr, en).to_owned();
        match self {
            Problem::Records(refusal) => refusal.text(lang).to_owned(),
            Problem::Password(weakness) => match lang {
                Lang::Fr => weakness.message().to_owned(),
                Lang::En => match weakness {
                    Weakness::TooShort => "The password needs 12 characters or more.".into(),
                    Weakness::NoDigit => "The password needs at least one digit.".into(),
                    Weakness::NoLetter => "The password needs at least one letter.".into(),
                    Weakness::Mismatch => "The two passwords typed differ.".into(),
                },
            },
            Problem::TooManyAttempts => pick(
                "Trop de tentatives : réessayez demain.",
                "Too many attempts: try again tomorrow.",
            ),
            Problem::Profile => pick(
                "Ce service de démonstration ne crée que des comptes de particuliers : choisissez « Particulier ».",
                "This demonstration service only creates accounts for private persons: choose “Particulier”.",
            ),
            Problem::FamilyName => pick("Indiquez votre nom de famille.", "Type your surname."),
            Problem::GivenName => pick("Indiquez votre prénom.", "Type your first name."),
            Problem::Email => pick(
                "L'adresse électronique doit être de la forme nom@domaine.fr.",
                "The email address reads like name@domain.fr.",
            ),
            Problem::EmailMismatch => pick(
                "Les deux adresses électroniques saisies sont différentes.",
                "The two email addresses typed differ.",
            ),
            Problem::Mobile => pick(
                "Le numéro de téléphone portable doit être un numéro français à 10 chiffres commençant par 06 ou 07.",
                "The mobile number must be a 10-digit French number starting with 06 or 07.",
            ),
            Problem::Captcha => pick(
                "Le code de sécurité recopié ne correspond pas à l'image. Recopiez celui de la nouvelle image.",
                "The security code copied does not match the image. Copy the one in the new image.",
            ),
            Problem::Terms => pick(
                "Pour créer votre espace, acceptez les conditions générales d'utilisation.",
                "To create your account, accept the terms of use.",
            ),
            Problem::CodeShape => pick(
                "Le code reçu par SMS comporte 6 chiffres.",
                "The code received by text message has 6 digits.",
            ),
            Problem::CodeWrong(left) => match lang {
                Lang::Fr => format!("Le code saisi est incorrect. Essais restants : {left}."),
                Lang::En => format!("The code typed is wrong. Attempts left: {left}."),
            },
            Problem::Question => pick(
                "Choisissez une question secrète.",
                "Choose a secret question.",
            ),
            Problem::Answer => pick(
                "La réponse à la question secrète doit comporter au moins 2 caractères.",
                "The answer to the secret question needs 2 characters or more.",
            ),
            Problem::Birthdate => pick(
                "La date de naissance doit être une date passée, au format JJ/MM/AAAA.",
                "The birth date must be a past date, as DD/MM/YYYY.",
            ),
            Problem::Gender => pick(
                "Indiquez votre sexe, tel qu'il figure sur votre acte de naissance.",
                "Give your sex as your birth certificate records it.",
            ),
            Problem::Country => pick(
                "Choisissez votre pays de naissance.",
                "Choose your country of birth.",
            ),
            Problem::Commune => pick(
                "Né en France : choisissez votre commune de naissance.",
                "Born in France: choose your commune of birth.",
            ),
            Problem::SmsFailed => pick(
                "Le SMS n'a pas pu être envoyé. Vérifiez le numéro, ou laissez-le vide, et recommencez.",
                "The text message could not be sent. Check the number, or leave it empty, and try again.",
            ),
        }
    }

    pub(crate) fn on(self, form: &mut Form) {
        let field = self.field();
        form.error = Some(((!field.is_empty()).then_some(field), self.text(form.lang)));
    }
}

fn kind_of(idp: &PasswordProvider) -> Option<SignupKind> {
    idp.config.login.signup()
}

fn title(lang: Lang, idp: &PasswordProvider) -> String {
    format!(
        "{} {}",
        lang.pick("Créer mon espace", "Create my account"),
        idp.config.name
    )
}

// ---------------------------------------------------------------- step 1

fn identify_form(
    idp: &PasswordProvider,
    session: &Session<IdpSession>,
    lang: Lang,
    kind: SignupKind,
    typed: Option<&Params>,
) -> Form {
    let typed = |name: &str| typed.map(|form| field(form, name)).unwrap_or_default();
    let mut form = Form::new(
        lang,
        &title(lang, idp),
        "/inscription",
        session.csrf_token(),
        lang.pick("Continuer", "Continue"),
    );
    match kind {
        SignupKind::Tax => {
            form.lead.push(lang.pick(
                "Munissez-vous de votre dernière déclaration de revenus et de votre dernier avis d'impôt.",
                "Have your last income tax return and your last tax notice at hand.",
            ).into());
            form.fields = vec![
                Field::text("tax_number", lang.pick("Numéro fiscal", "Tax number"), "numeric", "off")
                    .hint(lang.pick("13 chiffres ; si vous êtes marié ou pacsé, chacun a le sien", "13 digits; spouses and partners each have their own"))
                    .value(&typed("tax_number")),
                Field::text("access_number", lang.pick("Numéro d'accès en ligne", "Online access number"), "numeric", "off")
                    .hint(lang.pick("7 chiffres, sur votre dernière déclaration de revenus", "7 digits, on your last income tax return"))
                    .value(&typed("access_number")),
                Field::text("income", lang.pick("Revenu fiscal de référence", "Reference tax income"), "numeric", "off")
                    .hint(lang.pick("En euros, sur votre dernier avis d'impôt ; 0 si vous êtes rattaché au foyer fiscal de vos parents", "In euros, on your last tax notice; 0 if you are attached to your parents' tax household"))
                    .value(&typed("income")),
            ];
        }
        SignupKind::Health => {
            form.lead.push(
                lang.pick(
                    "Munissez-vous de votre carte Vitale ou de votre attestation de droits.",
                    "Have your Vitale card or your certificate of entitlement at hand.",
                )
                .into(),
            );
            form.fields = vec![
                Field::text(
                    "nir",
                    lang.pick("Numéro de sécurité sociale", "Social security number"),
                    "numeric",
                    "off",
                )
                .hint(lang.pick(
                    "13 caractères, sans la clé",
                    "13 characters, without the key",
                ))
                .value(&typed("nir")),
                Field::text("key", lang.pick("Clé", "Key"), "numeric", "off")
                    .hint(lang.pick("Les 2 derniers chiffres", "The last 2 digits"))
                    .value(&typed("key")),
                Field::text(
                    "birthdate",
                    lang.pick("Date de naissance", "Date of birth"),
                    "numeric",
                    "bday",
                )
                .hint(lang.pick("JJ/MM/AAAA", "DD/MM/YYYY"))
                .value(&typed("birthdate")),
            ];
        }
        SignupKind::Form => {
            form.submit = lang.pick("Créer mon espace", "Create my account").into();
            form.lead.push(lang.pick(
                "Vous recevrez un premier courriel pour activer votre espace, puis un second qui vous donnera votre identifiant.",
                "You will receive a first email to activate your account, then a second one giving your identifier.",
            ).into());
            let profiles = [
                ("particulier", lang.pick("Particulier", "Private person")),
                (
                    "professionnel",
                    lang.pick("Professionnel de l'automobile", "Car trade professional"),
                ),
                ("auto-ecole", lang.pick("Auto-école", "Driving school")),
            ];
            form.fields = vec![
                Field::of("profile", lang.pick("Je suis…", "I am…"), Kind::Select(
                    profiles.iter().map(|(value, label)| ((*value).to_owned(), (*label).to_owned())).collect(),
                )).value(&typed("profile")),
                Field::text("family_name", lang.pick("Nom de famille", "Surname"), "text", "family-name").value(&typed("family_name")),
                Field::text("given_name", lang.pick("Prénom", "First name"), "text", "given-name").value(&typed("given_name")),
                Field::text("email", lang.pick("Adresse électronique", "Email address"), "email", "email")
                    .hint(lang.pick("Format attendu : nom@domaine.fr", "Format: name@domain.fr"))
                    .value(&typed("email")),
                Field::of("captcha", lang.pick("Saisir le code ci-dessus", "Type the code above"), Kind::Captcha)
                    .hint(lang.pick("Six lettres ou chiffres, sans distinction de majuscules", "Six letters or digits, in any case")),
                Field::of("terms", lang.pick("J'accepte les conditions générales d'utilisation et les règles de confidentialité", "I accept the terms of use and the privacy rules"), Kind::Check(false)),
            ];
            form.links.push((
                "/inscription".into(),
                lang.pick("Afficher une autre image", "Show another image")
                    .into(),
            ));
        }
    }
    form.links.push((
        "/login".into(),
        lang.pick(
            "J'ai déjà un espace : me connecter",
            "I have an account: log in",
        )
        .into(),
    ));
    form
}

/// `GET /inscription`: the first step.
pub async fn start(
    State(idp): State<Arc<PasswordProvider>>,
    headers: HeaderMap,
) -> Result<Response, IdpError> {
    let mut session = session::load(&idp, &headers).await?;
    let lang = session.data.lang(&headers);
    let Some(kind) = kind_of(&idp) else {
        let page = message(lang, &idp.config.name, &title(lang, &idp), &[lang.pick(
            "Ce compte ne se crée pas en ligne : la création de l'identité numérique demande la vérification de votre identité par un agent (le passage de votre facteur, ou un rendez-vous).",
            "This account is not created online: creating the digital identity needs an agent to check your identity (your postman's visit, or an appointment).",
        )], &[("/login", lang.pick("Me connecter", "Log in"))]);
        return Ok(page);
    };
    session.data.signup = None;
    if kind == SignupKind::Form {
        session.data.new_captcha();
    }
    let page = identify_form(&idp, &session, lang, kind, None).render(&idp.config.name);
    session::respond(&idp, &session, page).await
}

/// `POST /inscription`.
pub async fn identify(
    State(idp): State<Arc<PasswordProvider>>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, IdpError> {
    let (mut session, form) = session::posted(&idp, &headers, &body).await?;
    let lang = session.data.lang(&headers);
    let kind = kind_of(&idp).ok_or(IdpError::NoLogin)?;
    let outcome = match kind {
        SignupKind::Tax | SignupKind::Health => check_records(&idp, kind, &form, &address).await?,
        SignupKind::Form => check_form(&idp, &mut session, &form).await?,
    };
    match outcome {
        Err(problem) => {
            if kind == SignupKind::Form {
                session.data.new_captcha();
            }
            let mut page = identify_form(&idp, &session, lang, kind, Some(&form));
            problem.on(&mut page);
            let page = page.render(&idp.config.name);
            session::respond(&idp, &session, page).await
        }
        Ok(Next::Details(signup)) => {
            session.data.signup = Some(*signup);
            session::respond(&idp, &session, see_other("/inscription/informations", None)).await
        }
        Ok(Next::Sent) => {
            session.data.captcha = None;
            session::respond(&idp, &session, see_other("/inscription/envoyee", None)).await
        }
    }
}

/// Where step 1 leads.
enum Next {
    /// To the details, with the person found.
    Details(Box<Signup>),
    /// The activation mail went.
    Sent,
}

async fn check_records(
    idp: &PasswordProvider,
    kind: SignupKind,
    form: &Params,
    address: &str,
) -> Result<Result<Next, Problem>, IdpError> {
    let number = match kind {
        SignupKind::Tax => field(form, "tax_number"),
        SignupKind::Health | SignupKind::Form => field(form, "nir"),
    };
    let throttled = format!("signup:{}", number.replace(' ', ""));
    let now = idp.clock.now();
    if idp.throttle.check(&throttled, address, now).await? != Verdict::Go {
        return Ok(Err(Problem::TooManyAttempts));
    }
    let found = match kind {
        SignupKind::Tax => idp.registry.check_tax(
            &number,
            &field(form, "access_number"),
            &field(form, "income"),
        ),
        SignupKind::Health | SignupKind::Form => {
            idp.registry
                .check_health(&number, &field(form, "key"), &field(form, "birthdate"))
        }
    };
    let citizen = match found {
        Ok(citizen) => citizen,
        Err(refusal) => {
            if refusal == Refusal::NoMatch {
                // Only real guesses count: a typo in a number's shape is not one.
                if matches!(
                    idp.throttle.failed(&throttled, address, now).await?,
                    Failure::JustLocked | Failure::JustBlocked
                ) {
                    return Ok(Err(Problem::TooManyAttempts));
                }
            }
            return Ok(Err(Problem::Records(refusal)));
        }
    };
    let identity = seed::identity_of(citizen, idp.config.login);
    Ok(Ok(Next::Details(Box::new(Signup {
        login: seed::login_of(citizen, idp.config.login),
        profile: Some(Profile::of(identity)),
        password_hash: None,
        sms: None,
    }))))
}

async fn check_form(
    idp: &PasswordProvider,
    session: &mut Session<IdpSession>,
    form: &Params,
) -> Result<Result<Next, Problem>, IdpError> {
    let shown = session.data.captcha();
    if field(form, "profile") != "particulier" {
        return Ok(Err(Problem::Profile));
    }
    let family_name = field(form, "family_name");
    let given_name = field(form, "given_name");
    let email = field(form, "email").to_lowercase();
    if family_name.is_empty() || family_name.chars().count() > 100 {
        return Ok(Err(Problem::FamilyName));
    }
    if given_name.is_empty() || given_name.chars().count() > 100 {
        return Ok(Err(Problem::GivenName));
    }
    if !oidc::claims::is_email(&email) {
        return Ok(Err(Problem::Email));
    }
    // A captcha is good for one try, right or wrong.
    session.data.captcha = None;
    if !shown.is_some_and(|shown| crate::captcha::matches(&shown.answer, &field(form, "captcha"))) {
        return Ok(Err(Problem::Captcha));
    }
    if form.get("terms") != Some("oui") {
        return Ok(Err(Problem::Terms));
    }
    let identity = Identity {
        given_name,
        family_name: family_name.to_uppercase(),
        birthdate: String::new(),
        gender: String::new(),
        birthplace: String::new(),
        birthcountry: String::new(),
        email: email.clone(),
        preferred_username: None,
    };
    let now = idp.clock.now();
    let mut account = Account {
        id: oidc::types::random_token(16),
        login: String::new(),
        password_hash: String::new(),
        email: email.clone(),
        identity: Profile::of(identity.clone()).to_json()?,
        status: AccountStatus::Pending,
        created_at: now,
    };
    // The identifier is assigned here, and mailed once the account is ready.
    let mut created = false;
    for _ in 0..5 {
        account.login = assigned_identifier(&identity);
        match idp.stores.accounts.create(&account).await {
            Ok(()) => {
                created = true;
                break;
            }
            Err(StoreError::Conflict) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    if !created {
        return Err(IdpError::Storage);
    }
    send_activation(idp, &account).await?;
    Ok(Ok(Next::Sent))
}

/// `prenom.nom.1234`, in ASCII lower case.
fn assigned_identifier(identity: &Identity) -> String {
    use rand::Rng as _;
    let ascii = |text: &str| -> String {
        let folded: String = text
            .chars()
            .filter_map(|c| match c {
                'à' | 'â' | 'ä' | 'À' | 'Â' | 'Ä' => Some('a'),
                'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => Some('e'),
                'î' | 'ï' | 'Î' | 'Ï' => Some('i'),
                'ô' | 'ö' | 'Ô' | 'Ö' => Some('o'),
                'ù' | 'û' | 'ü' | 'Ù' | 'Û' | 'Ü' => Some('u'),
                'ç' | 'Ç' => Some('c'),
                c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
                _ => None,
            })
            .take(20)
            .collect();
        if folded.is_empty() {
            "x".into()
        } else {
            folded
        }
    };
    let first = identity
        .given_name
        .split_whitespace()
        .next()
        .unwrap_or_default();
    format!(
        "{}.{}.{:04}",
        ascii(first),
        ascii(&identity.family_name),
        rand::rng().random_range(0..10_000)
    )
}

// ---------------------------------------------------------------- step 2

fn signup_of(session: &Session<IdpSession>) -> Result<Signup, IdpError> {
    session.data.signup.clone().ok_or(IdpError::NoSignup)
}

fn details_form(
    idp: &PasswordProvider,
    session: &Session<IdpSession>,
    lang: Lang,
    typed: Option<&Params>,
) -> Form {
    let typed = |name: &str| typed.map(|form| field(form, name)).unwrap_or_default();
    let mut form = Form::new(
        lang,
        &title(lang, idp),
        "/inscription/informations",
        session.csrf_token(),
        lang.pick("Continuer", "Continue"),
    );
    form.lead
        .push(lang.pick("Vos informations", "Your details").into());
    let [password, confirmation] =
        Field::new_password(lang, password_label(idp.config.login, lang));
    form.fields = vec![
        Field::text(
            "email",
            lang.pick("Adresse électronique", "Email address"),
            "email",
            "email",
        )
        .hint(lang.pick("Format attendu : nom@domaine.fr", "Format: name@domain.fr"))
        .value(&typed("email")),
        Field::text(
            "email_confirmation",
            lang.pick("Adresse électronique, à nouveau", "Email address, again"),
            "email",
            "email",
        )
        .value(&typed("email_confirmation")),
        password.hint(lang.pick(
            "12 caractères au moins, dont au moins un chiffre et une lettre. Conservez-le !",
            "12 characters or more, with at least one digit and one letter. Keep it!",
        )),
        confirmation,
    ];
    if idp.config.login == LoginKind::TaxNumber && idp.sms.is_some() {
        form.fields.push(
            Field::text("mobile", lang.pick("Téléphone portable", "Mobile phone"), "tel", "tel")
                .hint(lang.pick(
                    "Pour faciliter les contacts et renforcer la sécurité de votre espace : un code vous sera envoyé par SMS",
                    "To ease contact and secure your account: a code will be sent to it by text message",
                ))
                .value(&typed("mobile"))
                .optional(),
        );
    }
    form
}

/// `GET /inscription/informations`.
pub async fn details_page(
    State(idp): State<Arc<PasswordProvider>>,
    headers: HeaderMap,
) -> Result<Response, IdpError> {
    let session = session::load(&idp, &headers).await?;
    signup_of(&session)?;
    let lang = session.data.lang(&headers);
    Ok(details_form(&idp, &session, lang, None).render(&idp.config.name))
}

/// `POST /inscription/informations`.
pub async fn details(
    State(idp): State<Arc<PasswordProvider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, IdpError> {
    let (mut session, form) = session::posted(&idp, &headers, &body).await?;
    let mut signup = signup_of(&session)?;
    let lang = session.data.lang(&headers);
    let email = field(&form, "email").to_lowercase();
    let mobile = field(&form, "mobile");
    let problem = if !oidc::claims::is_email(&email) {
        Some(Problem::Email)
    } else if email != field(&form, "email_confirmation").to_lowercase() {
        Some(Problem::EmailMismatch)
    } else if let Err(weakness) = password::check_new(
        form.get("password").unwrap_or_default(),
        form.get("password_confirmation").unwrap_or_default(),
    ) {
        Some(Problem::Password(weakness))
    } else if !mobile.is_empty() && french_mobile(&mobile).is_none() {
        Some(Problem::Mobile)
    } else {
        None
    };
    if let Some(problem) = problem {
        let mut page = details_form(&idp, &session, lang, Some(&form));
        problem.on(&mut page);
        return Ok(page.render(&idp.config.name));
    }
    let hash = idp
        .hasher
        .hash_on_pool(form.get("password").unwrap_or_default().to_owned())
        .await?;
    signup.password_hash = Some(hash);
    if let Some(profile) = &mut signup.profile {
        profile.identity.email = email;
        profile.mobile = french_mobile(&mobile).filter(|_| idp.sms.is_some());
    }
    if idp.config.login == LoginKind::TaxNumber {
        session.data.signup = Some(signup);
        return session::respond(&idp, &session, see_other("/inscription/preferences", None)).await;
    }
    finish(&idp, &signup).await?;
    session.data.signup = None;
    session::respond(&idp, &session, see_other("/inscription/envoyee", None)).await
}

// ---------------------------------------------------------------- step 3

fn preferences_form(
    idp: &PasswordProvider,
    session: &Session<IdpSession>,
    lang: Lang,
    has_mobile: bool,
) -> Form {
    let mut form = Form::new(
        lang,
        &title(lang, idp),
        "/inscription/preferences",
        session.csrf_token(),
        lang.pick("Confirmer mes choix", "Confirm my choices"),
    );
    form.lead.push(lang.pick(
        "Les options « zéro papier » sont pré-cochées : vos avis d'impôt seront disponibles dans votre espace et vous serez informé par courriel de leur mise en ligne. Pour continuer à les recevoir sur papier, décochez-les.",
        "The paperless options are pre-ticked: your tax notices will be in your account and you will be told by email when they are. To keep receiving them on paper, untick them.",
    ).into());
    form.fields = vec![
        Field::of(
            "notices_online",
            lang.pick(
                "Mes avis d'impôt uniquement en ligne",
                "My tax notices online only",
            ),
            Kind::Check(true),
        ),
        Field::of(
            "news_by_email",
            lang.pick(
                "M'informer de l'actualité fiscale par courriel",
                "Tell me tax news by email",
            ),
            Kind::Check(true),
        ),
    ];
    if has_mobile {
        form.fields.push(Field::of(
            "news_by_sms",
            lang.pick(
                "M'informer de l'actualité fiscale par SMS",
                "Tell me tax news by text message",
            ),
            Kind::Check(true),
        ));
    }
    form
}

fn has_mobile(signup: &Signup) -> bool {
    signup
        .profile
        .as_ref()
        .is_some_and(|profile| profile.mobile.is_some())
}

/// `GET /inscription/preferences`.
pub async fn preferences_page(
    State(idp): State<Arc<PasswordProvider>>,
    headers: HeaderMap,
) -> Result<Response, IdpError> {
    let session = session::load(&idp, &headers).await?;
    let signup = signup_of(&session)?;
    if signup.password_hash.is_none() {
        return Err(IdpError::NoSignup);
    }
    let lang = session.data.lang(&headers);
    Ok(preferences_form(&idp, &session, lang, has_mobile(&signup)).render(&idp.config.name))
}

/// `POST /inscription/preferences`.
pub async fn preferences(
    State(idp): State<Arc<PasswordProvider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, IdpError> {
    let (mut session, form) = session::posted(&idp, &headers, &body).await?;
    let mut signup = signup_of(&session)?;
    if signup.password_hash.is_none() {
        return Err(IdpError::NoSignup);
    }
    let lang = session.data.lang(&headers);
    let ticked = |name: &str| form.get(name) == Some("oui");
    let mobile = signup
        .profile
        .as_ref()
        .and_then(|profile| profile.mobile.clone());
    if let Some(profile) = &mut signup.profile {
        profile.paperless = Some(Paperless {
            notices_online: ticked("notices_online"),
            news_by_email: ticked("news_by_email"),
            news_by_sms: ticked("news_by_sms") && mobile.is_some(),
        });
    }
    let Some(mobile) = mobile else {
        finish(&idp, &signup).await?;
        session.data.signup = None;
        return session::respond(&idp, &session, see_other("/inscription/envoyee", None)).await;
    };
    let code = six_digits();
    let salt = oidc::types::random_token(16);
    let text = format!(
        "{} : votre code de confirmation est {code}. Il est valable 10 minutes. Ne le communiquez à personne.",
        idp.config.name
    );
    let sent = match &idp.sms {
        Some(gateway) => gateway.send(&Sms { to: mobile, text }).await,
        None => Ok(()),
    };
    if let Err(error) = sent {
        tracing::warn!(provider = %idp.config.id, %error, "SMS not sent");
        let mut page = details_form(&idp, &session, lang, None);
        Problem::SmsFailed.on(&mut page);
        return Ok(page.render(&idp.config.name));
    }
    signup.sms = Some(SmsCode {
        hash: code_hash(&salt, &code),
        salt,
        expires_at: idp.clock.now() + SMS_LIFETIME_SECS,
        attempts_left: SMS_ATTEMPTS,
    });
    session.data.signup = Some(signup);
    session::respond(&idp, &session, see_other("/inscription/code", None)).await
}

fn six_digits() -> String {
    use rand::Rng as _;
    format!("{:06}", rand::rng().random_range(0..1_000_000))
}

fn code_hash(salt: &str, code: &str) -> String {
    base16ct::lower::encode_string(&Sha256::digest(format!("{salt}:{code}").as_bytes()))
}

// ---------------------------------------------------------------- step 4

fn code_form(idp: &PasswordProvider, session: &Session<IdpSession>, lang: Lang) -> Form {
    let mut form = Form::new(
        lang,
        &title(lang, idp),
        "/inscription/code",
        session.csrf_token(),
        lang.pick("Valider", "Confirm"),
    );
    form.lead.push(
        lang.pick(
            "Saisissez le code à 6 chiffres reçu par SMS sur votre téléphone portable.",
            "Type the 6-digit code received by text message on your mobile phone.",
        )
        .into(),
    );
    form.fields = vec![
        Field::text(
            "code",
            lang.pick("Code reçu par SMS", "Code received by text"),
            "numeric",
            "one-time-code",
        )
        .hint(lang.pick(
            "6 chiffres, valable 10 minutes",
            "6 digits, valid 10 minutes",
        )),
    ];
    form
}

/// `GET /inscription/code`.
pub async fn code_page(
    State(idp): State<Arc<PasswordProvider>>,
    headers: HeaderMap,
) -> Result<Response, IdpError> {
    let session = session::load(&idp, &headers).await?;
    if signup_of(&session)?.sms.is_none() {
        return Err(IdpError::NoSignup);
    }
    let lang = session.data.lang(&headers);
    Ok(code_form(&idp, &session, lang).render(&idp.config.name))
}

/// `POST /inscription/code`.
pub async fn code(
    State(idp): State<Arc<PasswordProvider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, IdpError> {
    let (mut session, form) = session::posted(&idp, &headers, &body).await?;
    let mut signup = signup_of(&session)?;
    let mut sms = signup.sms.clone().ok_or(IdpError::NoSignup)?;
    let lang = session.data.lang(&headers);
    let typed: String = field(&form, "code")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if typed.len() != 6 || !typed.bytes().all(|b| b.is_ascii_digit()) {
        let mut page = code_form(&idp, &session, lang);
        Problem::CodeShape.on(&mut page);
        return Ok(page.render(&idp.config.name));
    }
    let start_over = |text: &str| {
        message(
            lang,
            &idp.config.name,
            &title(lang, &idp),
            &[text],
            &[("/inscription", lang.pick("Recommencer", "Start again"))],
        )
    };
    if idp.clock.now() >= sms.expires_at {
        session.data.signup = None;
        let page = start_over(lang.pick(
            "Ce code a expiré (il est valable 10 minutes). Recommencez la création de votre espace : rien n'a été enregistré.",
            "This code has expired (it is valid 10 minutes). Start the creation of your account again: nothing was saved.",
        ));
        return session::respond(&idp, &session, page).await;
    }
    let right =
        oidc::types::constant_time_eq(code_hash(&sms.salt, &typed).as_bytes(), sms.hash.as_bytes());
    if !right {
        sms.attempts_left = sms.attempts_left.saturating_sub(1);
        if sms.attempts_left == 0 {
            session.data.signup = None;
            let page = start_over(lang.pick(
                "Trop de codes erronés. Recommencez la création de votre espace : rien n'a été enregistré.",
                "Too many wrong codes. Start the creation of your account again: nothing was saved.",
            ));
            return session::respond(&idp, &session, page).await;
        }
        let mut page = code_form(&idp, &session, lang);
        Problem::CodeWrong(sms.attempts_left).on(&mut page);
        signup.sms = Some(sms);
        session.data.signup = Some(signup);
        return session::respond(&idp, &session, page.render(&idp.config.name)).await;
    }
    finish(&idp, &signup).await?;
    session.data.signup = None;
    session::respond(&idp, &session, see_other("/inscription/envoyee", None)).await
}

// ---------------------------------------------------------------- the end

/// What an activation link stands for.
#[derive(Debug, Serialize, Deserialize)]
struct ActivationLink {
    account_id: String,
    /// The password hash's fingerprint when the link was sent: a link sent
    /// before a new creation for the same person is dead.
    fingerprint: String,
}

/// The creation's last step: the account is written, pending, and the
/// activation link mailed; or, when the person has an account already,
/// the address typed is told so.
async fn finish(idp: &PasswordProvider, signup: &Signup) -> Result<(), IdpError> {
    let (Some(profile), Some(password_hash)) = (&signup.profile, &signup.password_hash) else {
        return Err(IdpError::NoSignup);
    };
    let email = profile.identity.email.clone();
    let existing = idp.stores.accounts.find_by_login(&signup.login).await?;
    let account = match existing {
        Some(account) if account.status != AccountStatus::Pending => {
            tracing::info!(provider = %idp.config.id, "creation for an existing account");
            mails::send(
                idp,
                &email,
                mails::already_exists(&idp.config.name, &idp.config.public_url),
            )
            .await;
            return Ok(());
        }
        Some(pending) => {
            // Created but never activated: this creation replaces it.
            let account = Account {
                password_hash: password_hash.clone(),
                email: email.clone(),
                identity: profile.to_json()?,
                ..pending
            };
            idp.stores.accounts.update(&account).await?;
            account
        }
        None => {
            let account = Account {
                id: oidc::types::random_token(16),
                login: signup.login.clone(),
                password_hash: password_hash.clone(),
                email,
                identity: profile.to_json()?,
                status: AccountStatus::Pending,
                created_at: idp.clock.now(),
            };
            idp.stores.accounts.create(&account).await?;
            account
        }
    };
    send_activation(idp, &account).await
}

async fn send_activation(idp: &PasswordProvider, account: &Account) -> Result<(), IdpError> {
    let link = ActivationLink {
        account_id: account.id.clone(),
        fingerprint: one_time::fingerprint(&account.password_hash),
    };
    let token = one_time::issue(
        idp.stores.codes.as_ref(),
        Purpose::Activation,
        &link,
        idp.clock.now(),
    )
    .await?;
    let letter = mails::activation(&idp.config.name, &idp.link("/activation", &token));
    mails::send(idp, &account.email, letter).await;
    tracing::info!(provider = %idp.config.id, "account created, activation link sent");
    Ok(())
}

/// `GET /inscription/envoyee`.
pub async fn sent(State(idp): State<Arc<PasswordProvider>>, headers: HeaderMap) -> Response {
    let lang = Lang::of(&headers, None);
    message(
        lang,
        &idp.config.name,
        lang.pick("Consultez votre messagerie", "Check your mailbox"),
        &[
            lang.pick(
                "Un courriel vient de vous être envoyé. Ouvrez le lien d'activation qu'il contient : il est valable 24 heures et ne sert qu'une fois.",
                "An email has just been sent to you. Open the activation link it holds: it is valid 24 hours and works once.",
            ),
            lang.pick(
                "Vous ne le trouvez pas ? Regardez dans les courriers indésirables.",
                "Cannot find it? Look in your spam folder.",
            ),
        ],
        &[("/login", lang.pick("Me connecter", "Log in"))],
    )
}

/// `GET /captcha.svg`: the image of the captcha shown to this browser.
pub async fn captcha_image(
    State(idp): State<Arc<PasswordProvider>>,
    headers: HeaderMap,
) -> Response {
    let shown = match idp.sessions.load::<IdpSession>(&headers).await {
        Ok(Some(session)) => session.data.captcha(),
        _ => None,
    };
    match shown {
        Some(challenge) => (
            [(CONTENT_TYPE, "image/svg+xml"), (CACHE_CONTROL, "no-store")],
            challenge.svg,
        )
            .into_response(),
        None => IdpError::NoSignup.into_response(),
    }
}

// ---------------------------------------------------------------- activation

/// `?jeton=`.
#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    /// The link's token.
    #[serde(default)]
    pub jeton: String,
}

fn almost_there_form(
    session: &Session<IdpSession>,
    lang: Lang,
    token: &str,
    typed: Option<&Params>,
) -> Form {
    let typed = |name: &str| typed.map(|form| field(form, name)).unwrap_or_default();
    let mut form = Form::new(
        lang,
        lang.pick("Vous y êtes presque", "You are almost there"),
        "/activation",
        session.csrf_token(),
        lang.pick("Valider", "Confirm"),
    );
    form.lead.push(lang.pick(
        "Choisissez votre mot de passe et votre question secrète, et complétez votre état civil. Vous serez ensuite connecté, et un second courriel vous donnera votre identifiant.",
        "Choose your password and your secret question, and complete your civil status. You will then be logged in, and a second email will give you your identifier.",
    ).into());
    let mut countries: Vec<(String, String)> = cog::COUNTRIES
        .iter()
        .map(|country| (country.code.to_owned(), country.name.to_owned()))
        .collect();
    countries.sort_by(|a, b| (a.0 != cog::FRANCE, &a.1).cmp(&(b.0 != cog::FRANCE, &b.1)));
    let mut communes: Vec<(String, String)> = cog::COMMUNES
        .iter()
        .map(|commune| {
            (
                commune.code.to_owned(),
                format!("{} ({})", commune.name, commune.department),
            )
        })
        .collect();
    communes.sort_by(|a, b| a.1.cmp(&b.1));
    communes.insert(
        0,
        (
            String::new(),
            lang.pick("— Né(e) à l'étranger —", "— Born abroad —")
                .into(),
        ),
    );
    let questions = QUESTIONS
        .iter()
        .enumerate()
        .map(|(index, [fr, en])| (index.to_string(), lang.pick(fr, en).to_owned()))
        .collect();
    let country = typed("birthcountry");
    let [password, confirmation] = Field::new_password(lang, lang.pick("Mot de passe", "Password"));
    form.fields = vec![
        Field::hidden("jeton", token),
        password,
        confirmation,
        Field::of(
            "question",
            lang.pick("Question secrète", "Secret question"),
            Kind::Select(questions),
        )
        .value(&typed("question")),
        Field::text(
            "answer",
            lang.pick(
                "Réponse à la question secrète",
                "Answer to the secret question",
            ),
            "text",
            "off",
        )
        .value(&typed("answer")),
        Field::text(
            "birthdate",
            lang.pick("Date de naissance", "Date of birth"),
            "numeric",
            "bday",
        )
        .hint(lang.pick("JJ/MM/AAAA", "DD/MM/YYYY"))
        .value(&typed("birthdate")),
        Field::of(
            "gender",
            lang.pick("Sexe", "Sex"),
            Kind::Select(vec![
                ("female".into(), lang.pick("Féminin", "Female").into()),
                ("male".into(), lang.pick("Masculin", "Male").into()),
            ]),
        )
        .value(&typed("gender")),
        Field::of(
            "birthcountry",
            lang.pick("Pays de naissance", "Country of birth"),
            Kind::Select(countries),
        )
        .value(if country.is_empty() {
            cog::FRANCE
        } else {
            &country
        }),
        Field::of(
            "birthplace",
            lang.pick("Commune de naissance", "Commune of birth"),
            Kind::Select(communes),
        )
        .hint(lang.pick("Si vous êtes né en France", "If you were born in France"))
        .value(&typed("birthplace")),
    ];
    form
}

fn activation_button(
    idp: &PasswordProvider,
    session: &Session<IdpSession>,
    lang: Lang,
    token: &str,
) -> Form {
    let mut form = Form::link_button(
        lang,
        lang.pick("Activer votre espace", "Activate your account"),
        "/activation",
        session.csrf_token(),
        lang.pick("Activer mon espace", "Activate my account"),
        token,
    );
    form.lead.push(format!(
        "{} {}.",
        lang.pick(
            "Dernière étape : activez votre espace",
            "Last step: activate your account"
        ),
        idp.config.name
    ));
    form
}

/// `GET /activation?jeton=`: the link of the activation mail. It shows a
/// button (or, at an ANTS-style provider, the last form); the link is used
/// only when that is posted, so that a mail scanner opening it does not.
pub async fn activation_page(
    State(idp): State<Arc<PasswordProvider>>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, IdpError> {
    let session = session::load(&idp, &headers).await?;
    let lang = session.data.lang(&headers);
    let form = if kind_of(&idp) == Some(SignupKind::Form) {
        almost_there_form(&session, lang, &query.jeton, None)
    } else {
        activation_button(&idp, &session, lang, &query.jeton)
    };
    session::respond(&idp, &session, form.render(&idp.config.name)).await
}

/// A used or dead link's page.
pub(crate) fn dead_link(
    idp: &PasswordProvider,
    lang: Lang,
    used: bool,
    again: (&str, &str),
) -> Response {
    let text = if used {
        lang.pick(
            "Ce lien a déjà servi : il ne fonctionne qu'une fois.",
            "This link has already been used: it works only once.",
        )
    } else {
        lang.pick(
            "Ce lien n'est pas valide, ou il a expiré.",
            "This link is not valid, or it has expired.",
        )
    };
    message(
        lang,
        &idp.config.name,
        lang.pick("Lien inutilisable", "Link unusable"),
        &[text],
        &[again, ("/login", lang.pick("Me connecter", "Log in"))],
    )
}

/// Uses a link; a used or dead one gets its page, which offers `again`.
pub(crate) async fn use_link<T: serde::de::DeserializeOwned>(
    idp: &PasswordProvider,
    purpose: Purpose,
    token: &str,
    lang: Lang,
    again: (&str, &str),
) -> Result<Result<T, Response>, IdpError> {
    let codes = idp.stores.codes.as_ref();
    Ok(
        match one_time::redeem(codes, purpose, token, idp.clock.now()).await? {
            Redeemed::Fresh(value) => Ok(value),
            Redeemed::Used => Err(dead_link(idp, lang, true, again)),
            Redeemed::Invalid => Err(dead_link(idp, lang, false, again)),
        },
    )
}

/// `POST /activation`.
pub async fn activate(
    State(idp): State<Arc<PasswordProvider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, IdpError> {
    let (session, form) = session::posted(&idp, &headers, &body).await?;
    let lang = session.data.lang(&headers);
    let token = field(&form, "jeton");
    let form_kind = kind_of(&idp) == Some(SignupKind::Form);
    let details = if form_kind {
        match almost_there(&form, idp.clock.now()) {
            Ok(details) => Some(details),
            Err(problem) => {
                let mut page = almost_there_form(&session, lang, &token, Some(&form));
                problem.on(&mut page);
                return Ok(page.render(&idp.config.name));
            }
        }
    } else {
        None
    };
    let again = (
        "/inscription",
        lang.pick(
            "Recommencer la création de mon espace",
            "Create my account again",
        ),
    );
    let link =
        match use_link::<ActivationLink>(&idp, Purpose::Activation, &token, lang, again).await? {
            Ok(value) => value,
            Err(page) => return Ok(page),
        };
    let account = idp
        .stores
        .accounts
        .find_by_id(&link.account_id)
        .await?
        .filter(|account| {
            account.status == AccountStatus::Pending
                && one_time::fingerprint(&account.password_hash) == link.fingerprint
        });
    let Some(mut account) = account else {
        return Ok(dead_link(&idp, lang, false, again));
    };
    account.status = AccountStatus::Active;
    let Some(details) = details else {
        idp.stores.accounts.update(&account).await?;
        tracing::info!(provider = %idp.config.id, "account activated");
        return Ok(message(
            lang,
            &idp.config.name,
            lang.pick("Votre espace est activé", "Your account is activated"),
            &[lang.pick(
                "Vous pouvez maintenant vous connecter, ici ou avec Passerelle sur les services en ligne.",
                "You can now log in, here or with Passerelle on online services.",
            )],
            &[("/login", lang.pick("Me connecter", "Log in"))],
        ));
    };
    let mut profile = Profile::read(&account)?;
    profile.identity.birthdate = details.birthdate;
    profile.identity.gender = details.gender;
    profile.identity.birthcountry = details.birthcountry;
    profile.identity.birthplace = details.birthplace;
    let answer_hash = idp.hasher.hash_on_pool(details.answer).await?;
    profile.secret = Some(SecretQuestion {
        question: details.question,
        answer_hash,
    });
    account.identity = profile.to_json()?;
    account.password_hash = idp.hasher.hash_on_pool(details.password).await?;
    idp.stores.accounts.update(&account).await?;
    tracing::info!(provider = %idp.config.id, "account completed and activated");
    let letter = mails::identifier(&idp.config.name, &account.login, &idp.config.public_url);
    mails::send(&idp, &account.email, letter).await;
    // "Après avoir rempli ce formulaire, vous serez directement connecté."
    let cookie = session::log_in(&idp, &session, account.id).await?;
    Ok(see_other("/compte", Some(cookie)))
}

/// The last form of an ANTS-style creation, checked.
struct AlmostThere {
    password: String,
    question: usize,
    answer: String,
    birthdate: String,
    gender: String,
    birthcountry: String,
    birthplace: String,
}

fn almost_there(form: &Params, now: i64) -> Result<AlmostThere, Problem> {
    let password = form.get("password").unwrap_or_default();
    password::check_new(
        password,
        form.get("password_confirmation").unwrap_or_default(),
    )
    .map_err(Problem::Password)?;
    let question: usize = field(form, "question")
        .parse()
        .map_err(|_| Problem::Question)?;
    if question >= QUESTIONS.len() {
        return Err(Problem::Question);
    }
    let answer = field(form, "answer").to_lowercase();
    if answer.chars().count() < 2 {
        return Err(Problem::Answer);
    }
    // Years since 1970, near enough to refuse a birth date in the future.
    let this_year = 1970 + now / 31_556_952;
    let birthdate = parse_date(&field(form, "birthdate"))
        .filter(|date| date.year >= 1900 && i64::from(date.year) <= this_year)
        .ok_or(Problem::Birthdate)?;
    let gender = field(form, "gender");
    if gender != "female" && gender != "male" {
        return Err(Problem::Gender);
    }
    let birthcountry = field(form, "birthcountry");
    if cog::country(&birthcountry).is_none() {
        return Err(Problem::Country);
    }
    let birthplace = if birthcountry == cog::FRANCE {
        let code = field(form, "birthplace");
        cog::commune(&code).ok_or(Problem::Commune)?;
        code
    } else {
        String::new()
    };
    Ok(AlmostThere {
        password: password.to_owned(),
        question,
        answer,
        birthdate: birthdate.to_string(),
        gender,
        birthcountry,
        birthplace,
    })
}
