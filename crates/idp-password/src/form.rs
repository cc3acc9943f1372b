//! One page shape for every form of the provider (login, account creation,
//! reset, email change…): a title, a lead, an alert naming what is wrong,
//! labelled fields with their hints, one button. Built in code, rendered by
//! one template, so that every form is accessible the same way.

use askama::Template;
use axum::response::Response;
use web::Lang;

/// What a field is.
#[derive(Clone, Debug)]
pub enum Kind {
    /// A line of text; `input_mode` picks the phone keyboard (`numeric`,
    /// `email`, `tel`, `text`).
    Text {
        /// `inputmode`.
        input_mode: &'static str,
        /// `autocomplete`.
        autocomplete: &'static str,
    },
    /// A password (never echoed back).
    Password {
        /// `current-password` or `new-password`.
        autocomplete: &'static str,
    },
    /// A checkbox, checked or not.
    Check(bool),
    /// A list: (value, label) pairs.
    Select(Vec<(String, String)>),
    /// Not shown (tokens).
    Hidden,
    /// The captcha image above a text field.
    Captcha,
}

/// A field.
#[derive(Clone, Debug)]
pub struct Field {
    /// `name`, also the `id`.
    pub name: &'static str,
    /// Label.
    pub label: String,
    /// Hint under the label.
    pub hint: Option<String>,
    /// What it holds (typed back after an error, except passwords).
    pub value: String,
    /// What it is.
    pub kind: Kind,
    /// Whether it may be left empty.
    pub optional: bool,
}

impl Field {
    /// A text field.
    pub fn text(
        name: &'static str,
        label: &str,
        input_mode: &'static str,
        autocomplete: &'static str,
    ) -> Self {
        Self {
            name,
            label: label.to_owned(),
            hint: None,
            value: String::new(),
            kind: Kind::Text {
                input_mode,
                autocomplete,
            },
            optional: false,
        }
    }

    /// A password field.
    pub fn password(name: &'static str, label: &str, autocomplete: &'static str) -> Self {
        Self {
            kind: Kind::Password { autocomplete },
            ..Self::text(name, label, "text", autocomplete)
        }
    }

    /// A new password and its confirmation, with the rule as a hint.
    pub fn new_password(lang: Lang, label: &str) -> [Self; 2] {
        [
            Self::password("password", label, "new-password").hint(lang.pick(
                "12 caractères au moins, dont au moins un chiffre et une lettre",
                "12 characters or more, with at least one digit and one letter",
            )),
            Self::password(
                "password_confirmation",
                lang.pick("Le même, à nouveau", "The same, again"),
                "new-password",
            ),
        ]
    }

    /// A field of another kind.
    pub fn of(name: &'static str, label: &str, kind: Kind) -> Self {
        Self {
            kind,
            ..Self::text(name, label, "text", "off")
        }
    }

    /// A hidden field.
    pub fn hidden(name: &'static str, value: &str) -> Self {
        Self {
            value: value.to_owned(),
            ..Self::of(name, "", Kind::Hidden)
        }
    }

    /// With a hint.
    #[must_use]
    pub fn hint(mut self, hint: &str) -> Self {
        self.hint = Some(hint.to_owned());
        self
    }

    /// With a value.
    #[must_use]
    pub fn value(mut self, value: &str) -> Self {
        self.value = value.to_owned();
        self
    }

    /// Optional.
    #[must_use]
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
}

/// A form page.
#[derive(Clone, Debug)]
pub struct Form {
    /// Page language.
    pub lang: Lang,
    /// Heading (and title).
    pub title: String,
    /// Paragraphs under the heading.
    pub lead: Vec<String>,
    /// What is wrong, and with which field.
    pub error: Option<(Option<&'static str>, String)>,
    /// A notice that is not an error.
    pub info: Option<String>,
    /// Where it posts.
    pub action: String,
    /// CSRF token.
    pub csrf: String,
    /// Fields, in order.
    pub fields: Vec<Field>,
    /// The button.
    pub submit: String,
    /// Links under the form: (href, text).
    pub links: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "form.html")]
struct FormTemplate<'a> {
    form: &'a Form,
    error_field: &'a str,
}

impl Form {
    /// A form with no fields yet.
    pub fn new(lang: Lang, title: &str, action: &str, csrf: String, submit: &str) -> Self {
        Self {
            lang,
            title: title.to_owned(),
            lead: Vec::new(),
            error: None,
            info: None,
            action: action.to_owned(),
            csrf,
            fields: Vec::new(),
            submit: submit.to_owned(),
            links: Vec::new(),
        }
    }

    /// The page a mailed link opens: one button that posts the link's token.
    /// Opening the link uses nothing (a mail scanner may open it); posting
    /// does.
    pub fn link_button(
        lang: Lang,
        title: &str,
        action: &str,
        csrf: String,
        submit: &str,
        token: &str,
    ) -> Self {
        let mut form = Self::new(lang, title, action, csrf, submit);
        form.fields = vec![Field::hidden("jeton", token)];
        form
    }

    /// The page, in the provider's frame.
    pub fn render(&self, site: &str) -> Response {
        let template = FormTemplate {
            form: self,
            error_field: self
                .error
                .as_ref()
                .and_then(|(field, _)| *field)
                .unwrap_or(""),
        };
        web::render_page(site, &self.title, self.lang, None, &template)
    }
}

/// A page that only says something (sent mail, done), with links.
pub fn message(
    lang: Lang,
    site: &str,
    title: &str,
    paragraphs: &[&str],
    links: &[(&str, &str)],
) -> Response {
    let form = Form {
        lead: paragraphs.iter().map(|text| (*text).to_owned()).collect(),
        links: links
            .iter()
            .map(|(href, text)| ((*href).to_owned(), (*text).to_owned()))
            .collect(),
        ..Form::new(lang, title, "", String::new(), "")
    };
    form.render(site)
}
