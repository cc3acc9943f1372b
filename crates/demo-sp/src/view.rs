//! The démarches' pages: a [`Sheet`] (headings, notices, tables, links and
//! buttons) and a [`StepPage`] (one step of a form), each drawn by one
//! template, so that every page of every démarche is accessible the same
//! way.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use web::Lang;

use crate::form::{Field, Input};

/// A notice at the top of a page.
#[derive(Debug)]
pub struct Notice {
    /// An alert (something went wrong) or an information.
    pub alert: bool,
    /// What it says.
    pub text: String,
    /// A link after it.
    pub link: Option<(String, String)>,
}

impl Notice {
    /// An information.
    pub fn info(text: impl Into<String>) -> Self {
        Self {
            alert: false,
            text: text.into(),
            link: None,
        }
    }

    /// An alert.
    pub fn alert(text: impl Into<String>) -> Self {
        Self {
            alert: true,
            ..Self::info(text)
        }
    }

    /// The same with a link.
    pub fn link(self, href: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            link: Some((href.into(), text.into())),
            ..self
        }
    }
}

/// What a citizen can do from a section.
#[derive(Debug)]
pub enum Action {
    /// Go somewhere.
    Link {
        /// Where.
        href: String,
        /// The link's text.
        text: String,
        /// Drawn as the main button.
        primary: bool,
    },
    /// Send a form with one button (CSRF token included).
    Post {
        /// The form's action.
        action: String,
        /// The button's text.
        text: String,
        /// Drawn as the main button.
        primary: bool,
        /// Hidden fields.
        hidden: Vec<(String, String)>,
    },
}

impl Action {
    /// A main link-button.
    pub fn go(href: impl Into<String>, text: impl Into<String>) -> Self {
        Self::Link {
            href: href.into(),
            text: text.into(),
            primary: true,
        }
    }

    /// A secondary link-button.
    pub fn go_also(href: impl Into<String>, text: impl Into<String>) -> Self {
        Self::Link {
            href: href.into(),
            text: text.into(),
            primary: false,
        }
    }

    /// A main button posting to `action`.
    pub fn post(action: impl Into<String>, text: impl Into<String>) -> Self {
        Self::Post {
            action: action.into(),
            text: text.into(),
            primary: true,
            hidden: Vec::new(),
        }
    }

    /// A secondary button posting to `action`.
    pub fn post_also(action: impl Into<String>, text: impl Into<String>) -> Self {
        Self::Post {
            action: action.into(),
            text: text.into(),
            primary: false,
            hidden: Vec::new(),
        }
    }
}

/// A part of a page under its heading.
#[derive(Debug, Default)]
pub struct Section {
    /// Its `<h2>`.
    pub heading: String,
    /// Paragraphs.
    pub paragraphs: Vec<String>,
    /// A two-column table (label, value).
    pub rows: Vec<(String, String)>,
    /// A list of lines, each maybe a link: (text, href, hint).
    pub items: Vec<(String, Option<String>, Option<String>)>,
    /// Buttons.
    pub actions: Vec<Action>,
}

impl Section {
    /// A section with this heading.
    pub fn new(heading: impl Into<String>) -> Self {
        Self {
            heading: heading.into(),
            ..Self::default()
        }
    }

    /// Adds a paragraph.
    pub fn says(mut self, text: impl Into<String>) -> Self {
        self.paragraphs.push(text.into());
        self
    }

    /// Adds a table row.
    pub fn row(mut self, label: impl Into<String>, value: impl Into<String>) -> Self {
        self.rows.push((label.into(), value.into()));
        self
    }

    /// Adds a button.
    pub fn action(mut self, action: Action) -> Self {
        self.actions.push(action);
        self
    }
}

/// A page of a démarche.
#[derive(Debug, Template)]
#[template(path = "sheet.html")]
pub struct Sheet {
    /// Its `<h1>` and title.
    pub title: String,
    /// Its lead paragraph.
    pub lead: Option<String>,
    /// Notices under the title.
    pub notices: Vec<Notice>,
    /// Its sections.
    pub sections: Vec<Section>,
    /// The session's CSRF token, for the buttons that post.
    pub csrf: String,
}

impl Sheet {
    /// A page with this title.
    pub fn new(title: impl Into<String>, csrf: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            lead: None,
            notices: Vec::new(),
            sections: Vec::new(),
            csrf: csrf.into(),
        }
    }

    /// With a lead paragraph.
    pub fn lead(mut self, text: impl Into<String>) -> Self {
        self.lead = Some(text.into());
        self
    }

    /// Adds a notice.
    pub fn notice(mut self, notice: Notice) -> Self {
        self.notices.push(notice);
        self
    }

    /// Adds a section.
    pub fn section(mut self, section: Section) -> Self {
        self.sections.push(section);
        self
    }
}

/// A field as drawn: its spec, what it holds, whether it is wrong.
#[derive(Debug)]
pub struct Drawn {
    /// The field.
    pub field: Field,
    /// Its value.
    pub value: String,
    /// Its error, when it has one.
    pub error: Option<String>,
}

impl Drawn {
    /// The option list of a choice, empty otherwise.
    pub fn options(&self) -> &'static [(&'static str, &'static str)] {
        match self.field.input {
            Input::Select(options) => options,
            _ => &[],
        }
    }

    /// `aria-describedby`: the hint and the error, when there are.
    pub fn described_by(&self) -> String {
        let mut ids = Vec::new();
        if self.field.hint.is_some() {
            ids.push(format!("{}-hint", self.field.name));
        }
        if self.error.is_some() {
            ids.push(format!("{}-error", self.field.name));
        }
        ids.join(" ")
    }
}

/// One step of a démarche's form.
#[derive(Debug, Template)]
#[template(path = "step.html")]
pub struct StepPage {
    /// The démarche's name.
    pub procedure: String,
    /// The steps' names, and which one this is (0-based).
    pub steps: Vec<&'static str>,
    /// This step.
    pub current: usize,
    /// What it asks.
    pub intro: String,
    /// Notices (a deadline, an error list).
    pub notices: Vec<Notice>,
    /// What the identity filled in, shown: (label, value).
    pub known: Vec<(String, String)>,
    /// A summary of the answers so far, by step (the last step).
    pub summary: Vec<(String, Vec<(String, String)>)>,
    /// The fields to type.
    pub fields: Vec<Drawn>,
    /// Where the form goes.
    pub action: String,
    /// The main button's text.
    pub submit: String,
    /// The main button's action value (`suivant`, `deposer`).
    pub submit_value: &'static str,
    /// Whether there is a step before.
    pub can_go_back: bool,
    /// The session's CSRF token.
    pub csrf: String,
    /// The errors, by field, for the list at the top.
    pub errors: Vec<(&'static str, String)>,
}

impl StepPage {
    /// `Étape 2 sur 4`.
    pub fn counter(&self) -> String {
        format!("Étape {} sur {}", self.current + 1, self.steps.len())
    }

    /// The step's name.
    pub fn title(&self) -> &str {
        self.steps.get(self.current).copied().unwrap_or_default()
    }
}

/// Frames a démarche's page in the site's layout; French only, like the
/// services it imitates.
pub fn framed(site: &str, title: &str, body: &impl Template, status: StatusCode) -> Response {
    let mut response = web::render_page(site, title, Lang::Fr, None, body);
    if response.status().is_success() {
        *response.status_mut() = status;
    }
    response
}
