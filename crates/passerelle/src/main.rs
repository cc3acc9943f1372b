//! `passerelle`: the one binary of the federation.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use passerelle::logs::LogFormat;
use passerelle::{Config, DEMO_CONFIG, Options, Running};

#[derive(Debug, Parser)]
#[command(
    name = "passerelle",
    version,
    about = "Identity federation: hub, identity providers, demo services"
)]
struct Cli {
    /// How log lines are written on standard error: `text`, or `json` for
    /// a log collector (one object a line, with each request's id).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t = LogFormat::Text,
        env = "PASSERELLE_LOG_FORMAT"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole federation on this machine (embedded SQLite, seeded citizens).
    Demo {
        /// Data folder (SQLite files, keys).
        #[arg(long, default_value = "./passerelle-data")]
        data: PathBuf,
        /// A config to use instead of the embedded config/demo.toml.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Run the hub instances of a config file.
    Hub(PartArgs),
    /// Run the password identity providers of a config file.
    IdpPassword(PartArgs),
    /// Run the wallet identity provider of a config file.
    IdpWallet(PartArgs),
    /// Run the national register service of a config file.
    Register(PartArgs),
    /// Run the data provider (the tax data) of a config file.
    DataProvider(PartArgs),
    /// Run the demo service of a config file.
    DemoSp(PartArgs),
    /// Run the citizen dashboard of a config file.
    Dashboard(PartArgs),
    /// Hash a client secret read on standard input, for a service's
    /// `client_secret_hash` at a hub: HMAC-SHA-256 under a key derived from
    /// that hub's `sub_secret` (a microsecond to check, unlike Argon2id).
    HashSecret {
        /// The config file.
        #[arg(long)]
        config: PathBuf,
        /// The hub the service is registered at (`standard`, `plus`…).
        #[arg(long)]
        hub: String,
    },
    /// Write the generated population as CSV on standard output, to edit
    /// and use with `[population] csv`.
    Population {
        /// Seed of the generator.
        #[arg(long, default_value_t = population::DEFAULT_SEED)]
        seed: u64,
        /// How many citizens (1 to 1,000,000).
        #[arg(long, default_value_t = population::DEFAULT_SIZE)]
        size: usize,
    },
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Electronic ID cards (the personalisation role).
    #[command(subcommand)]
    Card(CardCommand),
    /// Town-hall agents of the certification console.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// The wallet app: an identity is an ID card plus a 6-digit code.
    Wallet {
        /// The app's folder (its state; one per phone).
        #[arg(long, default_value = "./passerelle-wallet")]
        folder: PathBuf,
        #[command(subcommand)]
        command: WalletCommand,
    },
    /// The police's reader of the digital driving licence.
    #[command(subcommand)]
    Verifier(VerifierCommand),
    /// Check a config file and exit.
    Check {
        /// The config file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Bring every part's schema of `[store] url` (PostgreSQL) to this
    /// program's version, before starting it; a running cluster is never
    /// upgraded by surprise: parts refuse a schema behind or ahead.
    Migrate {
        /// The config file.
        #[arg(long)]
        config: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum CardCommand {
    /// Personalises a card for a citizen of the population, signed with
    /// the test document signer of the data folder's PKI.
    Issue {
        /// Data folder (its `pki/` holds the signer).
        #[arg(long, default_value = "./passerelle-data")]
        data: PathBuf,
        /// The citizen's number in the population (from 1).
        #[arg(long)]
        citizen: u32,
        /// The card file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// A counter's card reader: reads the card with its code for a
    /// challenge shown by the town-hall console, and prints the read to
    /// paste there.
    Read {
        /// The card file.
        #[arg(long)]
        card: PathBuf,
        /// The challenge the console shows (16 hexadecimal digits).
        #[arg(long)]
        challenge: String,
        /// The holder's 6-digit code (asked when absent).
        #[arg(long, env = "PASSERELLE_WALLET_PIN")]
        pin: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// Hashes a password (read from standard input) for
    /// `[[idp_wallet.agents]] password_hash`.
    HashPassword,
    /// A new authenticator secret for `totp_secret`.
    NewSecret,
    /// The current code of an authenticator secret (what the agent's
    /// authenticator app shows).
    Code {
        /// The base32 secret.
        #[arg(long, env = "PASSERELLE_TOTP_SECRET")]
        secret: String,
    },
}

#[derive(Debug, Subcommand)]
enum WalletCommand {
    /// Reads the card, sets (new card) or checks the code, and creates or
    /// restores the identity at the provider. 18 or older, French ID card.
    Activate {
        /// The wallet provider's address.
        #[arg(long, default_value = "http://127.0.0.1:7091")]
        provider: String,
        /// The card file.
        #[arg(long)]
        card: PathBuf,
        /// Contact email for the provider's notices.
        #[arg(long)]
        email: String,
        /// The 6-digit code (asked when absent).
        #[arg(long, env = "PASSERELLE_WALLET_PIN")]
        pin: Option<String>,
    },
    /// Scans a login QR code (its address): shows the request, asks
    /// "Oui, c'est moi / Non, ce n'est pas moi", then the code and the card.
    Scan {
        url: String,
        #[command(flatten)]
        answers: Consent,
    },
    /// Asks for certification: the card read with the code, then the
    /// code mailed to the identity's address; shows the QR code to present
    /// at a town hall (valid one month).
    Certify {
        #[arg(long, env = "PASSERELLE_WALLET_PIN")]
        pin: Option<String>,
        /// The code received by email (asked when absent and a terminal
        /// is there).
        #[arg(long)]
        email_code: Option<String>,
    },
    /// A single-use identity proof (PDF) for a recipient and a purpose.
    Proof {
        #[arg(long, env = "PASSERELLE_WALLET_PIN")]
        pin: Option<String>,
        /// Who it is for (their name, as they will give it to check it).
        #[arg(long)]
        recipient: String,
        /// What for.
        #[arg(long)]
        purpose: String,
        /// How many days it is valid (1 to 30).
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// What it shows beyond the names: birthdate, birthplace, gender,
        /// nationality, usageName (comma-separated).
        #[arg(long, value_delimiter = ',')]
        attributes: Vec<String>,
        /// The PDF to write.
        #[arg(long, default_value = "justificatif.pdf")]
        out: PathBuf,
    },
    /// Reads the card and shows the identity as the provider sees it.
    Status {
        #[arg(long, env = "PASSERELLE_WALLET_PIN")]
        pin: Option<String>,
    },
    /// Changes the code (ends the certification).
    ChangePin {
        #[arg(long, env = "PASSERELLE_WALLET_PIN")]
        pin: Option<String>,
        #[arg(long)]
        new_pin: Option<String>,
    },
    /// Deletes the identity of this card at the provider (and the
    /// driving licence with it).
    Delete {
        #[arg(long, env = "PASSERELLE_WALLET_PIN")]
        pin: Option<String>,
    },
    /// The digital driving licence: shows it; `permis ajouter` adds it.
    Permis {
        #[command(subcommand)]
        action: Option<PermisCommand>,
    },
}

#[derive(Debug, Subcommand)]
enum VerifierCommand {
    /// A roadside check: scans the QR code the citizen's app shows, asks
    /// for the chosen data over an encrypted session, and verifies the
    /// answer (issuer's chain, signatures, digests, this session).
    Controle {
        /// The QR code's text (`mdoc:…`).
        #[arg(long)]
        qr: String,
        /// The IACA root certificate (DER) of the licences' issuer.
        #[arg(long, default_value = "./passerelle-data/pki/iaca.der")]
        iaca: PathBuf,
        /// The data asked for (comma-separated mDL element names).
        #[arg(long, value_delimiter = ',', default_values_t = verifier::ROADSIDE_ELEMENTS.iter().map(|e| (*e).to_owned()))]
        elements: Vec<String>,
        /// Check as of this time (Unix seconds) instead of now.
        #[arg(long)]
        at: Option<u64>,
    },
}

/// The code and the answer to the app's question, when given on the
/// command line instead of asked.
#[derive(Debug, clap::Args)]
struct Consent {
    #[arg(long, env = "PASSERELLE_WALLET_PIN")]
    pin: Option<String>,
    /// Answer yes ("Oui, c'est moi", show, send) without asking.
    #[arg(long, conflicts_with = "no")]
    yes: bool,
    /// Answer no without asking.
    #[arg(long)]
    no: bool,
}

impl From<Consent> for wallet::Answers {
    fn from(consent: Consent) -> Self {
        Self {
            pin: consent.pin,
            confirm: (consent.yes || consent.no).then_some(consent.yes),
            ..Self::default()
        }
    }
}

#[derive(Debug, Subcommand)]
enum PermisCommand {
    /// Reads the card with the code; the provider finds the holder's
    /// licence in the register and issues it into this wallet.
    Ajouter {
        #[arg(long, env = "PASSERELLE_WALLET_PIN")]
        pin: Option<String>,
    },
    /// Shows the licence at a roadside check: prints a QR code for the
    /// officer's reader, listens on local HTTP (no BLE or NFC here), shows
    /// what is asked, then asks for consent and the code.
    Presenter {
        #[command(flatten)]
        answers: Consent,
        /// Where to listen for the reader.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
    },
    /// Renews the licence's digital version with its issuer (done by
    /// `permis` when fewer than 7 days remain).
    Renouveler,
    /// Proves the right to drive to an online service: reads its
    /// `openid4vp://` link, shows who asks and what, then asks for
    /// consent and the code.
    Partager {
        /// The service's link.
        lien: String,
        #[command(flatten)]
        answers: Consent,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Add new current signing keys; keep the old ones published for the
    /// grace period, then drop them. Running processes take it within a minute.
    Rotate {
        /// Data folder.
        #[arg(long, default_value = "./passerelle-data")]
        data: PathBuf,
        /// Whose keys: `hub_<id>` (`hub_standard`, `hub_plus` in the demo),
        /// `idp-<id>`, or `trail` (the chain keys of the citizens' trails:
        /// a new current key, the old ones kept to verify).
        #[arg(long)]
        part: String,
        /// How long retired keys stay published, in hours (at least the
        /// longest token lifetime; tokens live 60 s).
        #[arg(long, default_value_t = 24)]
        grace_hours: i64,
    },
}

#[derive(Debug, clap::Args)]
struct PartArgs {
    /// The config file (config/example.toml documents every setting).
    #[arg(long)]
    config: PathBuf,
    /// Data folder (SQLite files, keys).
    #[arg(long, default_value = "./passerelle-data")]
    data: PathBuf,
}

/// jemalloc, not glibc's malloc: the request path allocates many small,
/// short-lived values on one thread and frees some on another, where glibc
/// spends a tenth of a single sign-on's CPU in its slow path
/// (`_int_malloc`, `malloc_consolidate`). Measured: 16 % less CPU a single
/// sign-on, 9 % a token request, the same memory (BENCHMARKS.md, run 10).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Err(error) = passerelle::logs::init(cli.log_format) {
        eprintln!("passerelle: no logs: {error}");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("passerelle: cannot start: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("passerelle: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn env() -> Vec<(String, String)> {
    std::env::vars().collect()
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo { data, config } => {
            let config = match config {
                Some(path) => Config::load(&path, env())?,
                None => Config::parse(DEMO_CONFIG, env())?,
            };
            let running = start(config.clone(), &data).await?;
            let cards = demo_cards(&running, &data)?;
            print_demo(&config, &running, &data);
            print_cards(&config, &cards);
            running.wait().await
        }
        Command::Hub(args) => run_part(args, Part::Hub).await,
        Command::IdpPassword(args) => run_part(args, Part::IdpPassword).await,
        Command::IdpWallet(args) => run_part(args, Part::IdpWallet).await,
        Command::Register(args) => run_part(args, Part::Register).await,
        Command::DataProvider(args) => run_part(args, Part::DataProvider).await,
        Command::DemoSp(args) => run_part(args, Part::DemoSp).await,
        Command::Dashboard(args) => run_part(args, Part::Dashboard).await,
        Command::Population { seed, size } => {
            anyhow::ensure!(
                (1..=1_000_000).contains(&size),
                "the size must be between 1 and 1000000"
            );
            print!("{}", population::to_csv(&population::generate(seed, size)));
            Ok(())
        }
        Command::HashSecret { config, hub } => {
            let config = Config::load(&config, env())?;
            let hub = config
                .hub
                .get(&hub)
                .with_context(|| format!("no [hub.{hub}] in the config"))?;
            let mut secret = String::new();
            std::io::stdin().read_line(&mut secret)?;
            let secret = secret.trim_end_matches(['\r', '\n']);
            anyhow::ensure!(
                secret.len() >= 32,
                "a client secret needs at least 32 characters"
            );
            println!(
                "{}",
                oidc::ClientSecret::hash(secret, &hub.client_secret_key())
            );
            Ok(())
        }
        Command::Keys(KeysCommand::Rotate {
            data,
            part,
            grace_hours,
        }) => {
            anyhow::ensure!(
                grace_hours >= 1,
                "the grace period must be at least one hour"
            );
            let now = oidc::Clock::now(&oidc::SystemClock);
            if part == "trail" {
                let id = passerelle::keys::rotate_trail(&data.join("keys"), now)?;
                println!("new current trail key: {id}; the old ones stay, to verify");
                println!("the running hubs and dashboards chain with it within a minute");
                return Ok(());
            }
            let rotation =
                passerelle::keys::rotate(&data.join("keys"), &part, now, grace_hours * 3600)?;
            println!("new current keys: {}", rotation.added.join(", "));
            println!(
                "retired, published for {grace_hours} h: {}",
                rotation.retired.join(", ")
            );
            println!("removed: {}", rotation.removed.join(", "));
            println!("the running {part} processes sign with the new keys within a minute");
            Ok(())
        }
        Command::Card(CardCommand::Issue { data, citizen, out }) => {
            let config = Config::parse(DEMO_CONFIG, env())?;
            let pki_dir = config
                .idp_wallet
                .as_ref()
                .map_or_else(|| PathBuf::from("pki"), |w| w.pki.clone());
            let now = oidc::Clock::now(&oidc::SystemClock);
            let (pki, _) = passerelle::cards::load_or_create_pki(&pki_dir, Some(&data), now)?;
            let pki = pki.context(
                "no pki.json in the data folder: only the personalisation side can issue cards",
            )?;
            let citizens = population::generate(config.population.seed, config.population.size);
            let person = citizens
                .iter()
                .find(|c| c.id == citizen)
                .with_context(|| format!("no citizen {citizen} in the population"))?;
            let state = passerelle::cards::issue_card(&pki, person, now)?;
            std::fs::write(&out, state.to_json().map_err(anyhow::Error::msg)?)
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "{}: card {} of {} {} (CAN {})",
                out.display(),
                state.document_number,
                person.given_name(),
                person.family_name,
                state.can
            );
            Ok(())
        }
        Command::Wallet { folder, command } => run_wallet(&folder, command).await,
        Command::Verifier(VerifierCommand::Controle {
            qr,
            iaca,
            elements,
            at,
        }) => {
            let der = std::fs::read(&iaca)
                .with_context(|| format!("reading the IACA certificate {}", iaca.display()))?;
            let trust = mdoc::TrustedIacas::new(&[der]).map_err(anyhow::Error::msg)?;
            let elements: Vec<&str> = elements.iter().map(String::as_str).collect();
            let now = at.unwrap_or_else(|| {
                u64::try_from(oidc::Clock::now(&oidc::SystemClock)).unwrap_or_default()
            });
            let verified = verifier::roadside_check(&qr, &elements, &trust, now).await?;
            println!("{}", verifier::describe(&verified));
            Ok(())
        }
        Command::Card(CardCommand::Read {
            card,
            challenge,
            pin,
        }) => {
            let read = wallet::counter_read(&card, &challenge, pin.as_deref())?;
            println!("{read}");
            Ok(())
        }
        Command::Agent(command) => run_agent(command),
        Command::Check { config: path } => {
            let config = Config::load(&path, env())?;
            for (id, hub) in &config.hub {
                for (index, service) in hub.services.iter().enumerate() {
                    if service
                        .client_secret_hash
                        .as_deref()
                        .is_some_and(|hash| !hash.starts_with(oidc::HMAC_PREFIX))
                    {
                        println!(
                            "hub.{id}.services[{index}].client_secret_hash: Argon2id, slow at each token request until its first success; re-hash the secret with `passerelle hash-secret --config {} --hub {id}`",
                            path.display()
                        );
                    }
                }
            }
            println!("{}: ok", path.display());
            Ok(())
        }
        Command::Migrate { config } => {
            let config = Config::load(&config, env())?;
            for (part, from) in passerelle::federation::migrate(&config).await? {
                let to = store::postgres::SCHEMA_VERSION;
                if from == to {
                    println!("{part}: v{to}, up to date");
                } else {
                    println!("{part}: v{from} → v{to}");
                }
            }
            Ok(())
        }
    }
}

/// The parts a subcommand can run alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Hub,
    DataProvider,
    IdpPassword,
    IdpWallet,
    Register,
    DemoSp,
    Dashboard,
}

/// Runs only the part a subcommand names: the rest of the file is ignored
/// (the hubs keep the mail and trail settings they use).
async fn run_part(args: PartArgs, part: Part) -> anyhow::Result<()> {
    let mut config = Config::load(&args.config, env())?;
    if part != Part::Hub {
        config.hub.clear();
    }
    // Those that send mail keep its settings (connection notices, account
    // and certification mails, the démarches' receipts).
    if !matches!(
        part,
        Part::Hub | Part::DemoSp | Part::IdpPassword | Part::IdpWallet
    ) {
        config.mail = None;
    }
    if part != Part::Hub && part != Part::Dashboard {
        config.traces = None;
    }
    if part != Part::IdpPassword {
        config.idp_password.clear();
    }
    if part != Part::IdpWallet {
        config.idp_wallet = None;
    }
    if part != Part::Register {
        config.register = None;
    }
    if part != Part::DataProvider {
        config.data_provider = None;
    }
    if part != Part::DemoSp {
        config.demo_sp = None;
    }
    if part != Part::Dashboard {
        config.dashboard = None;
    }
    if config.part_names().is_empty() {
        anyhow::bail!("{} does not configure this part", args.config.display());
    }
    let running = start(config, &args.data).await?;
    for part in &running.parts {
        println!("{} — {}", part.label, part.url);
    }
    running.wait().await
}

async fn run_wallet(folder: &Path, command: WalletCommand) -> anyhow::Result<()> {
    use wallet::{Answers, Wallet};
    let print_status = |status: &idp_wallet::api::IdentityStatus| {
        let level = match status.level {
            oidc::Acr::Eidas3 => "certifiée (eidas3)",
            _ => "non certifiée (eidas2)",
        };
        println!(
            "Identité numérique de {} {} : {level}",
            status.given_name, status.family_name
        );
        if let Some(until) = status.certified_until {
            println!("Certifiée jusqu'au {}.", card::Date::from_time(until).iso());
        }
        if let Some(notice) = &status.notice {
            let on = card::Date::from_time(notice.at).iso();
            match &notice.reason {
                None if notice.certified => println!("Certification accordée le {on}."),
                reason => println!(
                    "Certification refusée le {on} : {}.",
                    reason.as_deref().unwrap_or("raison inconnue")
                ),
            }
        }
    };
    match command {
        WalletCommand::Activate {
            provider,
            card,
            email,
            pin,
        } => {
            let answers = Answers {
                pin,
                ..Answers::default()
            };
            let status = Wallet::activate(folder, &provider, &card, &email, &answers).await?;
            if status.restored {
                println!("Identité numérique retrouvée sur ce téléphone.");
            } else {
                println!("Identité numérique créée.");
            }
            print_status(&status);
        }
        WalletCommand::Scan { url, answers } => {
            let answers = Answers::from(answers);
            let (context, approved) = Wallet::open(folder)?.scan(&url, &answers).await?;
            if approved {
                println!(
                    "Connexion à {} acceptée : poursuivez sur l'ordinateur.",
                    context.service
                );
            } else {
                println!(
                    "Connexion refusée. Si quelqu'un vous a demandé de scanner ce QR code, c'était une tentative de fraude."
                );
            }
        }
        WalletCommand::Certify { pin, email_code } => {
            let answers = Answers {
                pin,
                ..Answers::default()
            };
            let mut app = Wallet::open(folder)?;
            let mut email_code = email_code;
            if email_code.is_none() {
                if let wallet::Certify::CodeSent { email } = app.certify(&answers, None).await? {
                    println!("Un code de confirmation a été envoyé à {email}.");
                }
                email_code = wallet::ask_line("Code reçu par courriel :")?;
                if email_code.is_none() {
                    println!("Quand vous l'aurez : passerelle wallet certify --email-code CODE");
                    return Ok(());
                }
            }
            if let wallet::Certify::Requested { seal, expires_at } =
                app.certify(&answers, email_code.as_deref()).await?
            {
                let until = card::Date::from_time(expires_at);
                println!("Demande de certification enregistrée.");
                println!(
                    "Présentez ce QR code en mairie, avec votre carte, avant le {} :",
                    until.iso()
                );
                println!("{}", wallet::terminal_qr(&seal));
                println!(
                    "(Aussi dans {} et {}.)",
                    app.folder().join(wallet::CERTIFICATION_QR_SVG).display(),
                    app.folder().join(wallet::CERTIFICATION_QR_TEXT).display()
                );
            }
        }
        WalletCommand::Proof {
            pin,
            recipient,
            purpose,
            days,
            attributes,
            out,
        } => {
            let answers = Answers {
                pin,
                ..Answers::default()
            };
            let order = wallet::ProofOrder {
                recipient,
                purpose,
                days,
                attributes,
            };
            let (id, until) = Wallet::open(folder)?.proof(&answers, &order, &out).await?;
            println!(
                "Justificatif {id} pour {} écrit dans {} ; valable jusqu'au {until}, une seule fois.",
                order.recipient,
                out.display()
            );
        }
        WalletCommand::Status { pin } => {
            let answers = Answers {
                pin,
                ..Answers::default()
            };
            print_status(&Wallet::open(folder)?.status(&answers).await?);
        }
        WalletCommand::ChangePin { pin, new_pin } => {
            let answers = Answers {
                pin,
                new_pin,
                ..Answers::default()
            };
            let status = Wallet::open(folder)?.change_pin(&answers).await?;
            println!("Code personnel changé.");
            print_status(&status);
        }
        WalletCommand::Delete { pin } => {
            let answers = Answers {
                pin,
                ..Answers::default()
            };
            Wallet::open(folder)?.delete(&answers).await?;
            println!("Identité numérique supprimée.");
        }
        WalletCommand::Permis { action: None } => {
            let app = Wallet::open(folder)?;
            let now = oidc::Clock::now(&oidc::SystemClock);
            match app.licence()? {
                Some(licence) if licence.due(now) => match app.renew_licence().await {
                    Ok(renewed) => {
                        println!("Version numérique renouvelée.");
                        println!("{}", renewed.describe(now));
                    }
                    Err(error) => {
                        println!("{}", licence.describe(now));
                        println!("Renouvellement impossible : {error}");
                    }
                },
                Some(licence) => println!("{}", licence.describe(now)),
                None => println!(
                    "Aucun permis de conduire dans ce portefeuille : passerelle wallet permis ajouter"
                ),
            }
        }
        WalletCommand::Permis {
            action: Some(PermisCommand::Renouveler),
        } => {
            let renewed = Wallet::open(folder)?.renew_licence().await?;
            println!("Version numérique renouvelée.");
            println!("{}", renewed.describe(oidc::Clock::now(&oidc::SystemClock)));
        }
        WalletCommand::Permis {
            action: Some(PermisCommand::Ajouter { pin }),
        } => {
            let answers = Answers {
                pin,
                ..Answers::default()
            };
            let licence = Wallet::open(folder)?.add_licence(&answers).await?;
            println!("Permis de conduire ajouté.");
            println!("{}", licence.describe(oidc::Clock::now(&oidc::SystemClock)));
        }
        WalletCommand::Permis {
            action: Some(PermisCommand::Presenter { answers, listen }),
        } => {
            let answers = Answers::from(answers);
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("listening on {listen}"))?;
            let app = Wallet::open(folder)?;
            let presented = app
                .present_licence(&answers, listener, |qr| {
                    println!("Montrez ce QR code au contrôleur :");
                    println!("{}", wallet::terminal_qr(qr));
                    println!("{qr}");
                })
                .await?;
            match presented {
                wallet::Presented::Shown => println!("Permis montré."),
                wallet::Presented::Declined => println!("Contrôle refusé : rien n'a été montré."),
            }
        }
        WalletCommand::Permis {
            action: Some(PermisCommand::Partager { lien, answers }),
        } => {
            let answers = Answers::from(answers);
            match Wallet::open(folder)?.share_licence(&lien, &answers).await? {
                wallet::Shared::Sent => {
                    println!("Données transmises : poursuivez sur le site du service.")
                }
                wallet::Shared::Declined => println!("Rien n'a été transmis."),
            }
        }
    }
    Ok(())
}

fn run_agent(command: AgentCommand) -> anyhow::Result<()> {
    use argon2::password_hash::{PasswordHasher as _, SaltString, rand_core::OsRng};
    match command {
        AgentCommand::HashPassword => {
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.chars().count() < 12 {
                anyhow::bail!("an agent's password has at least 12 characters");
            }
            let salt = SaltString::generate(&mut OsRng);
            let hash = argon2::Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{hash}");
        }
        AgentCommand::NewSecret => {
            let secret: [u8; 20] = rand::random();
            println!("{}", idp_wallet::totp::encode_base32(&secret));
        }
        AgentCommand::Code { secret } => {
            let secret = idp_wallet::totp::decode_base32(&secret)
                .ok_or_else(|| anyhow::anyhow!("the secret is not base32"))?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or_default())
                .unwrap_or_default();
            let code = idp_wallet::totp::code_at(&secret, now)
                .ok_or_else(|| anyhow::anyhow!("the secret is not usable"))?;
            println!("{code}");
        }
    }
    Ok(())
}

/// The demo's cards: made once, in `cards/` of the data folder.
fn demo_cards(running: &Running, data: &Path) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let Some(pki) = &running.card_pki else {
        return Ok(Vec::new());
    };
    let folder = data.join("cards");
    let now = oidc::Clock::now(&oidc::SystemClock);
    let mut cards = Vec::new();
    for citizen in passerelle::cards::card_holders(&running.citizens, now, 3) {
        let path = folder.join(format!("carte-{}.json", citizen.id));
        if !path.exists() {
            std::fs::create_dir_all(&folder)?;
            let state = passerelle::cards::issue_card(pki, citizen, now)?;
            std::fs::write(&path, state.to_json().map_err(anyhow::Error::msg)?)?;
        }
        cards.push((
            path,
            format!("{} {}", citizen.given_name(), citizen.family_name),
        ));
    }
    Ok(cards)
}

fn print_cards(config: &Config, cards: &[(PathBuf, String)]) {
    let Some(wallet) = &config.idp_wallet else {
        return;
    };
    if cards.is_empty() {
        return;
    }
    println!(
        "\nCartes d'identité de démonstration (portefeuille {}) :",
        wallet.public_url
    );
    for (path, name) in cards {
        println!("  {}  {name}", path.display());
    }
    if let Some((path, _)) = cards.first() {
        println!(
            "  Activer : passerelle wallet activate --card {} --email vous@example.fr",
            path.display()
        );
    }
    for agent in &wallet.agents {
        println!(
            "  Console des mairies : {}/mairie — {} ({:?}), code : passerelle agent code --secret {}",
            wallet.public_url,
            agent.login,
            agent.role,
            agent.totp_secret.expose()
        );
    }
    if !wallet.agents.is_empty() {
        println!("  (mot de passe des agents de démonstration : Mairie-demo-2026)");
    }
}

async fn start(config: Config, data: &Path) -> anyhow::Result<Running> {
    std::fs::create_dir_all(data).with_context(|| format!("cannot create {}", data.display()))?;
    let options = Options {
        data_dir: Some(data.to_path_buf()),
        clock: Arc::new(oidc::SystemClock),
        listeners: Default::default(),
    };
    passerelle::start(&config, options).await
}

fn print_demo(config: &Config, running: &Running, data: &Path) {
    println!("\nPasserelle — la fédération de démonstration tourne sur cette machine.\n");
    let width = running
        .parts
        .iter()
        .map(|part| part.label.chars().count())
        .max()
        .unwrap_or_default();
    for part in &running.parts {
        println!("  {:<width$}  {}", part.label, part.url);
    }
    if let Some(demo) = &config.demo_sp {
        let buttons: Vec<String> = demo
            .hubs
            .iter()
            .map(|hub| format!("« S'identifier avec {} » ({})", hub.label, hub.acr))
            .collect();
        println!(
            "\nOuvrez {} et cliquez {}.",
            demo.public_url,
            buttons.join(" ou ")
        );
        if !demo.demarches.is_empty() {
            println!("\nLes démarches (chacune un service de sa plateforme) :");
        }
        for demarche in &demo.demarches {
            let kind = demo_sp::service(demarche.service);
            println!(
                "  {}/{}/  {} — niveau {}",
                demo.public_url.trim_end_matches('/'),
                kind.path,
                kind.name,
                kind.level
            );
        }
    }
    for (id, name, accounts) in &running.accounts {
        let Some(idp) = config.idp_password.iter().find(|idp| &idp.id == id) else {
            continue;
        };
        let label = match idp.login {
            idp_password::LoginKind::TaxNumber => "numéro fiscal",
            idp_password::LoginKind::Nir => "n° de sécurité sociale",
            idp_password::LoginKind::Email => "adresse électronique",
            idp_password::LoginKind::Assigned => "identifiant",
        };
        println!(
            "\nComptes de test chez {name} ({label} / mot de passe « {} ») :",
            idp.demo_password
        );
        for account in accounts
            .iter()
            .take(3)
            .chain(accounts.iter().rev().take(2).rev())
        {
            println!("  {}  {}", account.login, account.label);
        }
    }
    print_papers(config, running);
    for (_, hub) in config.hubs_in_order() {
        for sandbox in hub
            .services
            .iter()
            .filter(|service| service.client_id.starts_with("sandbox"))
        {
            print_sandbox(hub, sandbox);
        }
    }
    if let Some(dashboard) = &config.dashboard {
        println!(
            "\nTableau de bord du citoyen (historique, blocage d'un compte, signalement) : {}",
            dashboard.public_url
        );
    }
    if let Some(mail) = &config.mail
        && mail.transport == mail::TransportKind::Folder
    {
        println!(
            "\nCourriels envoyés (un fichier .eml par message) : {}",
            data.join(&mail.folder).display()
        );
    }
    if let Some(sms) = &config.sms
        && sms.transport == idp_password::sms::SmsTransportKind::Folder
    {
        println!(
            "SMS envoyés (un fichier .txt par message) : {}",
            data.join(&sms.folder).display()
        );
    }
    println!(
        "\nDonnées : {} (SQLite, clés). Arrêt : Ctrl+C.",
        data.display()
    );
}

/// The papers of two citizens who have no account yet, to create one at
/// each provider (README, « Créer un compte »).
fn print_papers(config: &Config, running: &Running) {
    let seeded = config
        .idp_password
        .iter()
        .map(|idp| idp.seed_accounts)
        .max()
        .unwrap_or_default();
    let without_account = |zero_income: bool| {
        running.citizens.iter().skip(seeded).find(|citizen| {
            citizen.deceased_on.is_none()
                && citizen.birthplace.is_some()
                && (citizen.reference_income == 0) == zero_income
        })
    };
    let people: Vec<_> = [false, true]
        .into_iter()
        .filter_map(without_account)
        .collect();
    if people.is_empty() {
        return;
    }
    println!("\nPapiers de citoyens sans compte, pour en créer un (lien « Créer mon espace ») :");
    for citizen in people {
        let birthplace = citizen
            .birthplace
            .as_deref()
            .and_then(population::cog::commune)
            .map_or("?", |commune| commune.name);
        println!(
            "  {} {}, {} le {:02}/{:02}/{} à {birthplace}",
            citizen.given_name(),
            citizen.family_name,
            if citizen.gender == population::Gender::Female {
                "née"
            } else {
                "né"
            },
            citizen.birthdate.day,
            citizen.birthdate.month,
            citizen.birthdate.year,
        );
        println!(
            "    impôts : numéro fiscal {}, numéro d'accès en ligne {}, revenu fiscal de référence {} €",
            citizen.tax_number, citizen.online_access_number, citizen.reference_income
        );
        println!(
            "    ameli, MSA : n° de sécurité sociale {} clé {}",
            citizen.nir, citizen.nir_key
        );
    }
}

fn print_sandbox(hub: &hub::Config, sandbox: &hub::ServiceConfig) {
    let plus = hub.platform == hub::Platform::Plus;
    println!(
        "\nBac à sable {} pour votre propre service (FranceConnect{} v2 : changez seulement l'URL de base) :",
        hub.name,
        if plus { "+" } else { "" }
    );
    println!("  issuer         {}", hub.issuer());
    println!(
        "  discovery      {}/.well-known/openid-configuration",
        hub.issuer()
    );
    println!("  client_id      {}", sandbox.client_id);
    println!(
        "  client_secret  {}",
        sandbox.client_secret.as_deref().unwrap_or("(hash only)")
    );
    println!("  redirect_uris  {}", sandbox.redirect_uris.join(" "));
    println!("  scopes         {}", sandbox.scopes.join(" "));
    let levels: Vec<&str> = hub.acr_offered().iter().map(|acr| acr.as_str()).collect();
    println!("  acr_values     {}", levels.join(" "));
    if let (Some(alg), Some(uri)) = (sandbox.encryption_alg, &sandbox.jwks_uri) {
        println!("  chiffrement    {alg} + A256GCM, vers la clé publiée à {uri}");
    }
    if !sandbox.require_pkce {
        println!("  (PKCE facultatif, client_secret_post)");
    }
}
