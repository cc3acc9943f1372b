//! The generated documents: docs/errors.md from the apps' error catalogues,
//! docs/config.md from config/example.toml. A test fails when either is
//! stale; `PASSERELLE_UPDATE_DOCS=1 cargo test -p passerelle docs` rewrites them.

/// A catalogue's row: code, HTTP status, French title and message.
type Row = (&'static str, u16, &'static str, &'static str);

fn rows<E>(catalogue: &'static web::Catalogue<E>) -> impl Iterator<Item = Row> {
    catalogue
        .iter()
        .map(|entry| (entry.code, entry.status, entry.title[0], entry.message[0]))
}

/// docs/errors.md.
pub fn errors_md() -> String {
    let mut text = String::from(
        "# Error pages\n\n\
         Generated from the error catalogues of the apps (`hub::errors::CATALOGUE`,\n\
         `idp_password::errors::CATALOGUE`, `idp_wallet::errors::CATALOGUE`, `web::rp::CATALOGUE`,\n\
         `dashboard::errors::CATALOGUE`, `demo_sp::errors::CATALOGUE`, and the JSON APIs'\n\
         `idp_wallet::api::API_CATALOGUE`, `register::errors::API_ERRORS`, `data_provider::API_ERRORS`); a test fails when this file is stale.\n\n\
         A page error shows its code to the citizen, who can quote it to support. Protocol\n\
         errors sent to services (`error`, `error_description`, `state`, `iss` on the\n\
         redirect; RFC 6749 JSON from the token endpoint) are not pages and are not listed here.\n\n",
    );
    let mut section = |title: &str, about: &str, rows: &mut dyn Iterator<Item = Row>| {
        text.push_str(&format!(
            "## {title}\n\n{about}| code | HTTP | title | message |\n|---|---|---|---|\n"
        ));
        for (code, status, page_title, message) in rows {
            text.push_str(&format!(
                "| `{code}` | {status} | {page_title} | {message} |\n"
            ));
        }
        text.push('\n');
    };
    section("Hub", "", &mut rows(hub::errors::CATALOGUE));
    section(
        "Password identity providers",
        "",
        &mut rows(idp_password::errors::CATALOGUE),
    );
    section(
        "Wallet identity provider",
        "",
        &mut rows(idp_wallet::errors::CATALOGUE),
    );
    section(
        "Logging in to a service",
        "The relying-party side every service shares (the dashboard, the demo service's\n\
         portal and each démarche): its login, callback and logout (`web::rp::CATALOGUE`).\n\n",
        &mut rows(web::rp::CATALOGUE),
    );
    section("Dashboard", "", &mut rows(dashboard::errors::CATALOGUE));
    section(
        "Démarches",
        "The demo service's démarches (`demo_sp::errors::CATALOGUE`).\n\n",
        &mut rows(demo_sp::errors::CATALOGUE),
    );
    text.push_str(
        "## JSON APIs\n\n\
         Not pages: the JSON errors of the APIs that are not OpenID Connect. The wallet app's\n\
         (`idp_wallet::api::API_CATALOGUE`) answers `{\"error\": code, \"message\": sentence shown\n\
         to the person}`; the register's (`register::errors::API_ERRORS`) and the data\n\
         provider's (`data_provider::API_ERRORS`) answer as OAuth 2.0 does, `{\"error\": code,\n\
         \"error_description\": …}`.\n\n\
         | API | code | HTTP | meaning |\n|---|---|---|---|\n",
    );
    let apis = idp_wallet::api::API_CATALOGUE
        .iter()
        .map(|entry| ("wallet app", entry.code, entry.status, entry.meaning))
        .chain(
            register::errors::API_ERRORS
                .iter()
                .map(|&(code, status, meaning)| ("register", code, status, meaning)),
        )
        .chain(
            data_provider::API_ERRORS
                .iter()
                .map(|&(code, status, meaning)| ("data provider", code, status, meaning)),
        );
    for (api, code, status, meaning) in apis {
        text.push_str(&format!("| {api} | `{code}` | {status} | {meaning} |\n"));
    }
    text
}

/// docs/config.md.
pub fn config_md() -> String {
    format!(
        "# Configuration\n\n\
         Generated from `config/example.toml`, which documents every setting; a test fails\n\
         when this file is stale. `config/demo.toml` is what `passerelle demo` runs.\n\n\
         - One TOML file configures any subset of the parts; unknown keys are refused.\n\
         - A bad value stops the process and names its path, e.g. `bad setting hub.services[0].scopes: unknown scope nope`.\n\
         - Any key can be set from the environment: `PASSERELLE__<TABLE>__<KEY>=value`\n  \
           (`PASSERELLE__HUB__STANDARD__SESSION_TTL_SECS=600`, `PASSERELLE__LISTEN__HUB_STANDARD=0.0.0.0:8080`).\n\
         - `passerelle check --config FILE` checks a file and exits.\n\n\
         ```toml\n{}```\n",
        include_str!("../../../config/example.toml")
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn check(path: &str, expected: &str) {
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path);
        if std::env::var_os("PASSERELLE_UPDATE_DOCS").is_some() {
            std::fs::write(&file, expected).unwrap();
        }
        let actual = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            actual == expected,
            "{path} is stale: run PASSERELLE_UPDATE_DOCS=1 cargo test -p passerelle docs"
        );
    }

    #[test]
    fn docs_errors_md_lists_every_error_page() {
        check("docs/errors.md", &super::errors_md());
    }

    #[test]
    fn docs_config_md_shows_every_setting() {
        check("docs/config.md", &super::config_md());
    }
}
