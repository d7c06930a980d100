//! The command line: `lantern serve | demo | migrate | agency | user | token | audit | stops |
//! surveys | backup`.
//!
//! Every failure ends as one line on stderr (`error: …`) and a non-zero exit, never a panic:
//! a wrong URL, an unreachable database or a port in use each say what is wrong.

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::platform::accounts::{self, CreateUserError, NewUser, Role};
use crate::platform::agencies::{self, CreateAgencyError, NewAgency};
use crate::platform::audit::{self, Actor};
use crate::platform::audit_head;
use crate::platform::backup;
use crate::platform::clock::Clock;
use crate::platform::config::Config;
use crate::platform::db::{Db, one_line};
use crate::platform::secrets::Key;

#[derive(Parser, Debug)]
#[command(
    name = "lantern",
    version,
    about = "Lantern: surveys, transparency and accountability for a police agency"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct DbArgs {
    /// sqlite://PATH (embedded, the default) or postgres://USER:PASSWORD@HOST/DB
    #[arg(
        long,
        env = "LANTERN_DATABASE_URL",
        default_value = "sqlite://lantern.db"
    )]
    pub database_url: String,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, env = "LANTERN_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// The address people use, e.g. https://lantern.example.gov (https turns on Secure cookies and HSTS)
    #[arg(long, env = "LANTERN_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Take client addresses from X-Forwarded-For (only behind a reverse proxy that sets it)
    #[arg(long, env = "LANTERN_TRUST_PROXY")]
    pub trust_proxy: bool,
    /// Survey submissions one client address may send at once (a kiosk at an event sends many)
    #[arg(long, env = "LANTERN_SUBMIT_BURST", default_value_t = 60)]
    pub submit_burst: u32,
    /// …and then per minute
    #[arg(long, env = "LANTERN_SUBMIT_PER_MINUTE", default_value_t = 30)]
    pub submit_per_minute: u32,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
}

/// Where post-contact invitations go out. Prefer the environment variables for URLs that
/// carry a password: flags show in the process list.
#[derive(Args, Debug, Clone, Default)]
pub struct DeliveryArgs {
    /// Mail server for invitations: smtp://HOST:PORT (plain), smtp://USER:PASS@HOST:587?tls=required (STARTTLS) or smtps://USER:PASS@HOST
    #[arg(long, env = "LANTERN_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// Sender of invitation e-mails, e.g. surveys@riverton.example.gov
    #[arg(long, env = "LANTERN_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// SMS gateway webhook taking a form POST of To and Body, e.g. https://SID:TOKEN@gateway.example/messages
    #[arg(long, env = "LANTERN_SMS_WEBHOOK_URL")]
    pub sms_webhook_url: Option<String>,
    /// Sending number or sender id passed to the gateway as From
    #[arg(long, env = "LANTERN_SMS_FROM")]
    pub sms_from: Option<String>,
}

impl DeliveryArgs {
    fn config(&self) -> crate::platform::config::DeliveryConfig {
        let given = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        crate::platform::config::DeliveryConfig {
            smtp_url: given(&self.smtp_url),
            mail_from: given(&self.mail_from),
            sms_webhook_url: given(&self.sms_webhook_url),
            sms_from: given(&self.sms_from),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web server
    Serve {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Build the demo agency and serve it (a fresh lantern-demo.db unless --database-url is given)
    Demo {
        /// Use (and keep) this database instead of a fresh lantern-demo.db; seeds it if the demo agency is missing
        #[arg(long)]
        database_url: Option<String>,
        /// Seed of the synthetic agency: the same seed gives the same agency
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Build the database and exit without serving
        #[arg(long)]
        no_serve: bool,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Apply database migrations and exit
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Manage agencies
    Agency {
        #[command(subcommand)]
        command: AgencyCommand,
    },
    /// Manage staff accounts
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// API tokens for integrations and scripts
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Work with the audit chain
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Import stop records and population benchmarks
    Stops {
        #[command(subcommand)]
        command: StopsCommand,
    },
    /// Post-contact survey invitations
    Surveys {
        #[command(subcommand)]
        command: SurveysCommand,
    },
    /// Write a consistent copy of a SQLite database (safe while the server runs)
    Backup {
        /// The file to write; it must not exist yet
        path: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum AgencyCommand {
    /// Add an agency
    Add {
        /// Short name used in addresses, e.g. riverton-pd
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        /// IANA time zone, e.g. America/Chicago
        #[arg(long, default_value = "America/New_York")]
        timezone: String,
        /// Centre point for sun times (veil-of-darkness analysis)
        #[arg(long, allow_hyphen_values = true)]
        latitude: Option<f64>,
        #[arg(long, allow_hyphen_values = true)]
        longitude: Option<f64>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List agencies
    List {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a staff account; the password is read from standard input, or generated and printed
    Add {
        /// The agency's slug
        #[arg(long)]
        agency: String,
        #[arg(long)]
        username: String,
        /// admin, analyst, supervisor, investigator, oversight or staff
        #[arg(long)]
        role: String,
        /// Full name as staff pages show it
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, default_value = "")]
        email: String,
        /// Read the password from standard input instead of generating one
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token and print its secret (shown once; only its hash is kept)
    Create {
        /// The agency's slug
        #[arg(long)]
        agency: String,
        /// What the token is for, e.g. "CAD nightly export"
        #[arg(long)]
        name: String,
        /// The role whose rights the token has: admin, analyst, supervisor, investigator,
        /// oversight or staff
        #[arg(long)]
        role: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum StopsCommand {
    /// Import a CSV of stops (SOPP schema, or another through --mapping); all or nothing unless --skip-invalid
    Import {
        /// The agency's slug
        #[arg(long)]
        agency: String,
        /// The CSV file
        file: PathBuf,
        /// A TOML column-mapping file for files not in the SOPP schema
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// Import the valid rows and list the invalid ones, instead of refusing the file
        #[arg(long)]
        skip_invalid: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Print the disparity analysis and the veil-of-darkness test as JSON
    Analyze {
        /// The agency's slug
        #[arg(long)]
        agency: String,
        /// Only this year
        #[arg(long, default_value = "")]
        year: String,
        /// Only this district
        #[arg(long, default_value = "")]
        district: String,
        /// Only vehicular or pedestrian stops
        #[arg(long, default_value = "")]
        stop_type: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Import residential population by race (geography,race,population CSV, or ACS B03002 with --acs-county)
    Population {
        /// The agency's slug
        #[arg(long)]
        agency: String,
        /// The CSV file
        file: PathBuf,
        /// Read an ACS table B03002 county file and take this county (five-digit FIPS, e.g. 06085)
        #[arg(long)]
        acs_county: Option<String>,
        /// With --acs-county: the geography to store it as (agency, or a district code)
        #[arg(long, default_value = "agency")]
        geography: String,
        /// Where the figures come from, shown under the benchmark table
        #[arg(long, default_value = "")]
        source: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum SurveysCommand {
    /// One delivery pass (for cron): send waiting invitations and due reminders, mark expired
    /// links, erase contact details past the retention period
    Deliver {
        /// The agency's slug
        #[arg(long)]
        agency: String,
        /// The address people use, for the links in messages, e.g. https://lantern.example.gov
        #[arg(long, env = "LANTERN_PUBLIC_URL")]
        public_url: Option<String>,
        #[command(flatten)]
        delivery: DeliveryArgs,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check every agency's audit chain (or one); exits non-zero and names the first bad row
    Verify {
        /// Only this agency
        #[arg(long)]
        agency: Option<String>,
        /// Also check the chain against a head kept outside the database: the line `audit
        /// head` printed (or a file holding it). Rows cut from the end, or a chain rewritten
        /// and re-hashed, pass the chain's own check but not this one
        #[arg(long, value_name = "HEAD")]
        head: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Print each agency's (or one's) chain head, signed by this deployment, as one line of
    /// JSON to keep somewhere the database's administrators cannot rewrite
    Head {
        /// Only this agency
        #[arg(long)]
        agency: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Runs a command; the error's one-line text is what the person sees.
pub async fn run(cli: Cli) -> ExitCode {
    match dispatch(cli.command).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&format!("{e:#}")));
            ExitCode::from(1)
        }
    }
}

async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { db: db_args, serve } => {
            let db = Db::connect(&db_args.database_url).await?;
            serve_app(db, config_of(db_args.database_url, &serve)).await
        }
        Command::Demo {
            database_url,
            seed,
            no_serve,
            serve,
        } => demo(database_url, seed, no_serve, serve).await,
        Command::Migrate { db } => {
            Db::connect(&db.database_url).await?;
            println!("migrations are up to date");
            Ok(ExitCode::SUCCESS)
        }
        Command::Agency { command } => agency(command).await,
        Command::User { command } => user(command).await,
        Command::Token { command } => token(command).await,
        Command::Audit {
            command: AuditCommand::Verify { agency, head, db },
        } => audit_verify(&db.database_url, agency.as_deref(), head.as_deref()).await,
        Command::Audit {
            command: AuditCommand::Head { agency, db },
        } => audit_head(&db.database_url, agency.as_deref()).await,
        Command::Stops { command } => stops(command).await,
        Command::Surveys { command } => surveys(command).await,
        Command::Backup { path, db } => {
            let db = Db::connect_without_migrating(&db.database_url).await?;
            let bytes = backup::backup(&db, &path).await?;
            println!("wrote {} ({} bytes)", path.display(), bytes);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn config_of(database_url: String, serve: &ServeArgs) -> Config {
    let mut config = Config::new(database_url);
    config.bind = serve.bind;
    config.public_url = serve.public_url.clone();
    config.trust_proxy = serve.trust_proxy;
    config.submit_burst = serve.submit_burst;
    config.submit_per_minute = serve.submit_per_minute;
    config.delivery = serve.delivery.config();
    config
}

/// Binds first, so a port in use is reported before anything else happens.
async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!("cannot listen on {addr}: the port is already in use (choose another with --bind or LANTERN_BIND)")
        } else {
            anyhow::anyhow!("cannot listen on {addr}: {e}")
        }
    })
}

async fn serve_app(db: Db, config: Config) -> anyhow::Result<ExitCode> {
    crate::surveys::delivery::Transports::check(&config)?;
    let listener = bind(config.bind).await?;
    let base = config.base_url();
    let state = crate::app::state(db, config, Clock::system()).await?;
    tracing::info!("serving on {base}");
    println!("Lantern is listening on {base}");
    crate::app::serve(state, listener).await?;
    Ok(ExitCode::SUCCESS)
}

async fn demo(
    database_url: Option<String>,
    seed: u64,
    no_serve: bool,
    serve: ServeArgs,
) -> anyhow::Result<ExitCode> {
    crate::surveys::delivery::Transports::check(&config_of(String::new(), &serve))?;
    let listener = if no_serve {
        None
    } else {
        Some(bind(serve.bind).await?)
    };
    let url = match database_url {
        Some(url) => url,
        None => {
            let path = crate::demo::default_path();
            crate::demo::clear_previous(&path).await?;
            format!("sqlite://{}", path.display())
        }
    };
    let started = std::time::Instant::now();
    let db = Db::connect(&url).await?;
    let clock = Clock::system();
    let (agency, created) = crate::demo::ensure(&db, seed, clock.unix()).await?;
    let config = config_of(url.clone(), &serve);
    let base = config.base_url();
    println!(
        "{} the demo agency {} in {} ({:.1} s)",
        if created { "Built" } else { "Reusing" },
        agency.name,
        crate::platform::db::redact_url(&url),
        started.elapsed().as_secs_f64()
    );
    println!();
    println!("  Public site:  {base}/{}", agency.slug);
    println!("  Staff sign-in: {base}/{}/signin", agency.slug);
    println!();
    println!("  {:<14} {:<32} password", "username", "role");
    for (username, role, _, password) in crate::demo::ACCOUNTS {
        println!("  {:<14} {:<32} {}", username, role.label(), password);
    }
    println!();
    println!(
        "  Two-step sign-in is off in the demo agency; an admin can turn it on under Settings."
    );
    let Some(listener) = listener else {
        return Ok(ExitCode::SUCCESS);
    };
    println!("  Press Ctrl-C to stop.");
    let state = crate::app::state(db, config, clock).await?;
    crate::app::serve(state, listener).await?;
    Ok(ExitCode::SUCCESS)
}

async fn agency(command: AgencyCommand) -> anyhow::Result<ExitCode> {
    match command {
        AgencyCommand::Add {
            slug,
            name,
            timezone,
            latitude,
            longitude,
            db,
        } => {
            let db = Db::connect(&db.database_url).await?;
            let new = NewAgency {
                slug,
                name,
                timezone,
                latitude,
                longitude,
            };
            match agencies::create(&db, new, &Actor::System("cli"), Clock::system().unix()).await {
                Ok(a) => {
                    println!("added agency {} ({})", a.name, a.slug);
                    println!(
                        "next: lantern user add --agency {} --username NAME --role admin",
                        a.slug
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(CreateAgencyError::Invalid(errors)) => {
                    for e in errors {
                        eprintln!("error: {}: {}", e.field, e.message);
                    }
                    Ok(ExitCode::from(2))
                }
                Err(e) => Err(e.into()),
            }
        }
        AgencyCommand::List { db } => {
            let db = Db::connect(&db.database_url).await?;
            for a in agencies::list(&db).await? {
                println!("{}\t{}\t{}", a.slug, a.name, a.timezone);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn user(command: UserCommand) -> anyhow::Result<ExitCode> {
    let UserCommand::Add {
        agency,
        username,
        role,
        name,
        email,
        password_stdin,
        db,
    } = command;
    let role: Role = role.parse().map_err(anyhow::Error::msg)?;
    let db = Db::connect(&db.database_url).await?;
    let Some(agency) = agencies::by_slug(&db, &agency).await? else {
        anyhow::bail!("no agency with slug {agency:?} (see lantern agency list)");
    };
    let (password, generated) = if password_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        (s.trim_end_matches(['\r', '\n']).to_string(), false)
    } else {
        (crate::platform::secrets::random_token(15), true)
    };
    let new = NewUser {
        username,
        display_name: name,
        email,
        role,
        password: password.clone(),
    };
    match accounts::create(
        &db,
        agency.id,
        &agency.name,
        new,
        &Actor::System("cli"),
        None,
        Clock::system().unix(),
    )
    .await
    {
        Ok(u) => {
            println!(
                "added {} ({}) to {}",
                u.username,
                u.role().label(),
                agency.name
            );
            if generated {
                println!("password: {password}");
                println!("(shown once; they can change it under My account)");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(CreateUserError::Invalid(errors)) => {
            for e in errors {
                eprintln!("error: {}: {}", e.field, e.message);
            }
            Ok(ExitCode::from(2))
        }
        Err(CreateUserError::Db(e)) => Err(e.into()),
        Err(CreateUserError::Other(e)) => Err(e),
    }
}

async fn token(command: TokenCommand) -> anyhow::Result<ExitCode> {
    let TokenCommand::Create {
        agency,
        name,
        role,
        db,
    } = command;
    let role: Role = role.parse().map_err(anyhow::Error::msg)?;
    let name = crate::platform::api_tokens::validate_name(&name).map_err(anyhow::Error::msg)?;
    let db = Db::connect(&db.database_url).await?;
    let Some(agency) = agencies::by_slug(&db, &agency).await? else {
        anyhow::bail!("no agency with slug {agency:?} (see lantern agency list)");
    };
    let (token, secret) = crate::platform::api_tokens::create(
        &db,
        agency.id,
        &name,
        role,
        &Actor::System("cli"),
        None,
        Clock::system().unix(),
    )
    .await?;
    // The secret alone on stdout, so a script can capture it; the rest on stderr.
    eprintln!(
        "created token {} ({}, {}) for {}; the secret is shown once:",
        token.id,
        token.name,
        role.label(),
        agency.name
    );
    println!("{secret}");
    Ok(ExitCode::SUCCESS)
}

async fn stops(command: StopsCommand) -> anyhow::Result<ExitCode> {
    use crate::transparency::{import::ImportError, mapping::Mapping, population};
    match command {
        StopsCommand::Import {
            agency,
            file,
            mapping,
            skip_invalid,
            db,
        } => {
            let mapping = match mapping {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
                    Mapping::from_toml(&text).map_err(anyhow::Error::msg)?
                }
                None => Mapping::sopp(),
            };
            let db = Db::connect(&db.database_url).await?;
            let Some(agency) = agencies::by_slug(&db, &agency).await? else {
                anyhow::bail!("no agency with slug {agency:?} (see lantern agency list)");
            };
            let handle = std::fs::File::open(&file)
                .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", file.display()))?;
            let size = handle.metadata().map(|m| m.len()).unwrap_or(0);
            let bar = indicatif::ProgressBar::new(size);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {bytes}/{total_bytes} [{bar:30}] {elapsed} (eta {eta})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            let progress = {
                let bar = bar.clone();
                Box::new(move |bytes: u64| bar.set_position(bytes)) as Box<dyn Fn(u64) + Send>
            };
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let started = std::time::Instant::now();
            let result = crate::transparency::import_now(
                &db,
                &agency,
                &name,
                Box::new(std::io::BufReader::with_capacity(1 << 20, handle)),
                Some(size),
                mapping,
                skip_invalid,
                Actor::System("cli"),
                Clock::system().unix(),
                Some(progress),
            )
            .await;
            bar.finish_and_clear();
            let (id, report) = match result {
                Ok(r) => r,
                Err(ImportError::File(message)) => anyhow::bail!("{}: {message}", file.display()),
                Err(ImportError::Db(e)) => return Err(e.into()),
            };
            for e in &report.errors {
                eprintln!("{}: {e}", if report.rejected { "error" } else { "skipped" });
            }
            if report.more_errors > 0 {
                eprintln!("… and {} more problems", report.more_errors);
            }
            if report.rejected {
                eprintln!(
                    "error: nothing imported: {} of {} rows are invalid (fix them, or pass --skip-invalid to import the rest)",
                    report.rows_invalid, report.rows_read
                );
                return Ok(ExitCode::from(2));
            }
            println!(
                "import {id}: {} rows read, {} stops added, {} already present, {} invalid skipped ({:.1} s)",
                report.rows_read,
                report.rows_inserted,
                report.rows_duplicate,
                report.rows_invalid,
                started.elapsed().as_secs_f64()
            );
            if !report.ignored_columns.is_empty() {
                println!("columns not used: {}", report.ignored_columns.join(", "));
            }
            Ok(ExitCode::SUCCESS)
        }
        StopsCommand::Analyze {
            agency,
            year,
            district,
            stop_type,
            db,
        } => {
            use crate::transparency::{routes, store::Scope};
            let db = Db::connect(&db.database_url).await?;
            let Some(agency) = agencies::by_slug(&db, &agency).await? else {
                anyhow::bail!("no agency with slug {agency:?} (see lantern agency list)");
            };
            let scope = Scope {
                year,
                district,
                stop_type,
            };
            let started = std::time::Instant::now();
            let analysis = routes::compute_analysis(&db, &agency, &scope).await?;
            let after_rates = started.elapsed();
            let darkness = routes::compute_darkness(&db, &agency, &scope).await?;
            let after_darkness = started.elapsed();
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "analysis": analysis,
                    "darkness": darkness,
                }))?
            );
            eprintln!(
                "rates and benchmark {:.3} s, veil of darkness {:.3} s",
                after_rates.as_secs_f64(),
                (after_darkness - after_rates).as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        StopsCommand::Population {
            agency,
            file,
            acs_county,
            geography,
            source,
            db,
        } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let margins = match acs_county {
                Some(fips) => population::parse_acs_b03002(&text, &fips, &geography),
                None => population::parse_plain(&text, &source),
            }
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let db = Db::connect(&db.database_url).await?;
            let Some(agency) = agencies::by_slug(&db, &agency).await? else {
                anyhow::bail!("no agency with slug {agency:?} (see lantern agency list)");
            };
            let done = population::store(
                &db,
                &agency,
                &margins,
                &Actor::System("cli"),
                Clock::system().unix(),
            )
            .await?;
            println!(
                "population by race stored for {} ({})",
                done.join(", "),
                margins.source
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn surveys(command: SurveysCommand) -> anyhow::Result<ExitCode> {
    let SurveysCommand::Deliver {
        agency,
        public_url,
        delivery,
        db,
    } = command;
    let mut config = Config::new(db.database_url.clone());
    config.public_url = public_url;
    config.delivery = delivery.config();
    crate::surveys::delivery::Transports::check(&config)?;
    let db = Db::connect(&db.database_url).await?;
    let Some(agency) = agencies::by_slug(&db, &agency).await? else {
        anyhow::bail!("no agency with slug {agency:?} (see lantern agency list)");
    };
    let state = crate::app::state(db, config, Clock::system()).await?;
    let pass = crate::surveys::delivery::deliver(&state, &agency).await?;
    println!("{pass}");
    for reason in &pass.waiting {
        eprintln!("waiting: {reason}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The agencies a command covers: all, or the one named.
async fn agencies_of(db: &Db, only: Option<&str>) -> anyhow::Result<Vec<agencies::Agency>> {
    let all = agencies::list(db).await?;
    match only {
        Some(slug) => {
            let found: Vec<_> = all.into_iter().filter(|a| a.slug == slug).collect();
            if found.is_empty() {
                anyhow::bail!("no agency with slug {slug:?}");
            }
            Ok(found)
        }
        None => Ok(all),
    }
}

async fn audit_verify(
    database_url: &str,
    only: Option<&str>,
    head: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let db = Db::connect_without_migrating(database_url).await?;
    // A head given on the command line, or the path of a file that holds one.
    let kept = match head {
        None => None,
        Some(text) => {
            let text = if text.trim_start().starts_with('{') {
                text.to_string()
            } else {
                std::fs::read_to_string(text)
                    .map_err(|e| anyhow::anyhow!("cannot read the head file {text:?}: {e}"))?
            };
            Some(audit_head::SignedHead::parse(&text).map_err(anyhow::Error::msg)?)
        }
    };
    let only = only.or(kept.as_ref().map(|h| h.agency.as_str()));
    let targets = agencies_of(&db, only).await?;
    let signer = audit_head::Signer::new(&Key::load_or_create(&db).await?);
    let mut broken = false;
    for agency in targets {
        if let Some(kept) = &kept {
            match audit_head::verify_against(&db, &signer, &agency, kept).await? {
                Ok(v) => println!(
                    "{}: intact, {} rows, holds the kept head (row {}), head {} {}",
                    agency.slug, v.rows, kept.seq, v.head_seq, v.head_hash
                ),
                Err(reason) => {
                    broken = true;
                    println!("{}: BROKEN against the kept head: {reason}", agency.slug);
                }
            }
            continue;
        }
        let v = audit::verify(&db, agency.id).await?;
        match &v.first_break {
            None => println!(
                "{}: intact, {} rows, head {} {}",
                agency.slug, v.rows, v.head_seq, v.head_hash
            ),
            Some(b) => {
                broken = true;
                println!("{}: BROKEN at row {}: {}", agency.slug, b.seq, b.reason);
            }
        }
    }
    Ok(if broken {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

async fn audit_head(database_url: &str, only: Option<&str>) -> anyhow::Result<ExitCode> {
    let db = Db::connect_without_migrating(database_url).await?;
    let signer = audit_head::Signer::new(&Key::load_or_create(&db).await?);
    for agency in agencies_of(&db, only).await? {
        println!(
            "{}",
            audit_head::current(&db, &signer, &agency).await?.to_line()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
