//! `docent`: one binary for the API server and its maintenance commands.

use docent_bench::{bench, eval};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use docent::operator;
use docent::startup::App;
use docent_core::config::{Config, DatabaseUrl, LogFormat, Overrides, StorageUrl};
use docent_core::domain::{Plan, Role};
use docent_core::ids::TenantId;
use tracing_subscriber::EnvFilter;

/// Docent: a multi-tenant RAG chatbot server.
///
/// Settings come from built-in defaults, then `docent.toml` (or --config), then
/// `DOCENT_*` environment variables, then the flags below.
#[derive(Parser)]
#[command(name = "docent", version, about, long_about)]
struct Cli {
    /// Configuration file (TOML). Default: ./docent.toml when present.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API on the embedded default (SQLite file and local storage
    /// in the data dir), applying pending migrations first.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080, env: DOCENT_LISTEN].
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// Serve the API only, leaving jobs to `docent worker` processes (a
        /// stateless API node of a scaled-out deployment).
        #[arg(long)]
        no_workers: bool,
        #[command(flatten)]
        data: DataDir,
    },
    /// Run job workers only (ingestion, crawls), without the HTTP API. Start
    /// any number of them against the same database.
    Worker {
        #[command(flatten)]
        data: DataDir,
    },
    /// Apply pending database migrations, then exit.
    Migrate {
        #[command(flatten)]
        data: DataDir,
    },
    /// Move an embedded instance to PostgreSQL (and S3): copies every table
    /// of its SQLite database into an empty PostgreSQL database and, with
    /// --to-storage, every stored file. Stop the server first.
    Copy {
        /// Target database, `postgres://USER:PASS@HOST:PORT/DB` (migrated
        /// first; must hold no tenant yet).
        #[arg(long, value_name = "URL")]
        to_database: String,
        /// Target object storage, `s3://BUCKET?endpoint=…&region=…`.
        #[arg(long, value_name = "URL")]
        to_storage: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// The instance's tenants: list them, create one with its owner, set
    /// a tenant's plan. Run on the instance's machine (no admin token).
    Tenants {
        #[command(subcommand)]
        action: TenantsAction,
        #[command(flatten)]
        data: DataDir,
    },
    /// API keys of a tenant.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
        #[command(flatten)]
        data: DataDir,
    },
    /// What this instance runs: database, storage, embedder, language model,
    /// the job queue, how many tenants.
    Status {
        #[command(flatten)]
        data: DataDir,
    },
    /// Manage the model files the server uses.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
        #[command(flatten)]
        data: DataDir,
    },
    /// Run a performance scenario and print its figures (see docs/BENCHMARKS.md).
    Bench(bench::BenchArgs),
    /// Measure retrieval and answer quality on a golden set (recall, MRR,
    /// nDCG, abstention), or the grounding check on labelled sentences; with
    /// --min-* a gate that exits non-zero.
    Eval(Box<eval::EvalArgs>),
    /// Internal: extract one untrusted file read from stdin, under resource
    /// limits; the server runs this in a child process for every document.
    #[command(name = "extract-sandbox", hide = true)]
    ExtractSandbox(SandboxArgs),
}

#[derive(Subcommand)]
enum TenantsAction {
    /// Every tenant: id, plan, creation date, name.
    List,
    /// Create a tenant and its owner, as sign-up does (the owner's password
    /// is read from stdin, so it stays out of the shell history).
    Create {
        /// The organisation's name.
        #[arg(long)]
        name: String,
        /// The owner's email.
        #[arg(long)]
        email: String,
        /// Read the owner's password (at least 8 characters) from stdin.
        #[arg(long, required = true)]
        password_stdin: bool,
        /// The plan [default: DOCENT_DEFAULT_PLAN].
        #[arg(long, value_parser = plan)]
        plan: Option<Plan>,
    },
    /// Move a tenant to another plan: free, pro or enterprise.
    SetPlan {
        tenant: TenantId,
        #[arg(value_parser = plan)]
        plan: Plan,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Create an API key in a tenant; prints the key (shown only this once).
    Create {
        #[arg(long)]
        tenant: TenantId,
        #[arg(long)]
        name: String,
        /// viewer, editor, admin or owner.
        #[arg(long, default_value = "editor", value_parser = role)]
        role: Role,
    },
}

fn plan(s: &str) -> Result<Plan, String> {
    Plan::parse(s).ok_or_else(|| "a plan is free, pro or enterprise".into())
}

fn role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "a role is viewer, editor, admin or owner".into())
}

#[derive(Subcommand)]
enum ModelsAction {
    /// Fetch the default embedding model from DOCENT_MODEL_SOURCE into the
    /// data dir's cache, verified, so `serve` needs no network.
    Pull,
}

#[derive(Args)]
struct SandboxArgs {
    #[arg(long)]
    kind: String,
    #[arg(long)]
    memory_bytes: u64,
    #[arg(long)]
    cpu_secs: u64,
    #[arg(long)]
    max_text_bytes: usize,
}

#[derive(Args)]
struct DataDir {
    /// Directory for the database, files and generated secrets
    /// [default: ./data, env: DOCENT_DATA_DIR].
    #[arg(long, value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    one_thread_per_model_op();
    keep_freed_memory();
    let cli = Cli::parse();
    if let Command::ExtractSandbox(args) = &cli.command {
        // No configuration, logging or runtime: the child only parses.
        return docent_ingest::sandbox::run_child(&docent_ingest::sandbox::ChildArgs {
            kind: args.kind.clone(),
            memory_bytes: args.memory_bytes,
            cpu_secs: args.cpu_secs,
            max_text_bytes: args.max_text_bytes,
        });
    }
    let overrides = match &cli.command {
        Command::Bench(_) | Command::Eval(_) | Command::ExtractSandbox(_) => Overrides::default(),
        Command::Serve { listen, data, .. } => Overrides {
            listen: *listen,
            data_dir: data.data_dir.clone(),
        },
        Command::Migrate { data }
        | Command::Worker { data }
        | Command::Copy { data, .. }
        | Command::Tenants { data, .. }
        | Command::Keys { data, .. }
        | Command::Status { data }
        | Command::Models { data, .. } => Overrides {
            listen: None,
            data_dir: data.data_dir.clone(),
        },
    };
    let config = match Config::load(cli.config.as_deref(), overrides) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("docent: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(config.server.log_format);
    for name in Config::unknown_env_vars(std::env::vars()) {
        tracing::warn!(variable = %name, "ignored: no setting has this name");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime starts");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve { no_workers, .. } => serve(config, !no_workers).await,
            Command::Worker { .. } => worker(config).await,
            Command::Migrate { .. } => migrate(config).await,
            Command::Copy {
                to_database,
                to_storage,
                ..
            } => copy(config, &to_database, to_storage.as_deref()).await,
            Command::Models {
                action: ModelsAction::Pull,
                ..
            } => pull_model(config).await,
            Command::Tenants { action, .. } => operate(tenants(config, action)).await,
            Command::Keys {
                action: KeysAction::Create { tenant, name, role },
                ..
            } => operate(operator::create_key(config, tenant, name, role)).await,
            Command::Status { .. } => operate(operator::status(config)).await,
            Command::Bench(args) => bench::run(args, launcher()).await,
            Command::Eval(args) => eval::run(*args, launcher()).await,
            Command::ExtractSandbox(_) => unreachable!("handled before the runtime starts"),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("docent: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The local embedder runs its micro-batches side by side, one per core, each
/// on its own thread (docent-llm's `embed/local.rs`); candle's thread pools,
/// which would split every matrix product and element-wise op across cores,
/// then only spin and wait (measured on 2 cores: 24 → 30 texts/s). candle
/// reads its thread counts from these variables; an operator's own values win.
#[allow(unsafe_code)]
fn one_thread_per_model_op() {
    for var in ["CANDLE_NUM_THREADS", "RAYON_NUM_THREADS"] {
        if std::env::var_os(var).is_none() {
            // SAFETY: the first thing `main` does, before any other thread
            // exists that could read the environment.
            unsafe { std::env::set_var(var, "1") };
        }
    }
}

/// glibc hands each allocation above a moving threshold (128 KiB at first)
/// straight to the kernel and unmaps it when freed, and returns a heap's free
/// top as soon as it passes 128 KiB. The local embedder makes and drops
/// tensors of a few MiB per layer, so every one was fresh, zeroed pages from
/// the kernel (measured: a fifth of embedding's CPU time in page faults;
/// mimalloc's default purging did the same). Such blocks now stay in the heap
/// for reuse, up to 64 MiB of free top.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn keep_freed_memory() {
    // SAFETY: mallopt only sets allocator parameters, which glibc guards
    // with its own lock.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}

/// How `bench` and `eval` start their in-process server: as `serve` does.
fn launcher() -> docent_bench::bench::server::Launch {
    std::sync::Arc::new(|config, stop| {
        Box::pin(async move {
            let app = App::build(config).await?;
            let addr = app.local_addr();
            let until = move || {
                let mut rx = stop.clone();
                async move {
                    let _ = rx.wait_for(|s| *s).await;
                }
            };
            app.spawn_workers(until());
            tokio::spawn(app.run(until()));
            Ok(addr)
        })
    })
}

async fn tenants(config: Config, action: TenantsAction) -> anyhow::Result<String> {
    match action {
        TenantsAction::List => operator::list_tenants(config).await,
        TenantsAction::Create {
            name, email, plan, ..
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("cannot read the password from stdin")?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            operator::create_tenant(config, name, email, password, plan).await
        }
        TenantsAction::SetPlan { tenant, plan } => operator::set_plan(config, tenant, plan).await,
    }
}

/// Prints what an operator command reports.
async fn operate(
    report: impl std::future::Future<Output = anyhow::Result<String>>,
) -> anyhow::Result<()> {
    print!("{}", report.await?);
    Ok(())
}

async fn pull_model(config: Config) -> anyhow::Result<()> {
    let source = docent::startup::model_source(&config);
    let spec = &docent_llm::embed::models::ALL_MINILM_L6_V2;
    let dir = docent_llm::embed::models::fetch(spec, &source.source, &source.cache_root).await?;
    println!("{} is in {} (verified)", spec.name, dir.display());
    Ok(())
}

async fn serve(config: Config, with_workers: bool) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    // One signal stops both the API and the workers; the workers finish their
    // current jobs (or leave them to lapse and be retried elsewhere).
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let workers = with_workers.then(|| app.spawn_workers(stopped(stop_rx)));
    app.run(async move {
        docent::startup::shutdown_signal().await;
        let _ = stop_tx.send(true);
    })
    .await?;
    if let Some(workers) = workers {
        let _ = workers.await;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn worker(config: Config) -> anyhow::Result<()> {
    let components = docent::startup::Components::build(config).await?;
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    components
        .worker(wake)
        .run(docent::startup::shutdown_signal())
        .await;
    Ok(())
}

async fn stopped(mut rx: tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    docent_store::open(&config.database()).await?;
    tracing::info!("migrations applied");
    println!("migrations applied");
    Ok(())
}

async fn copy(config: Config, to_database: &str, to_storage: Option<&str>) -> anyhow::Result<()> {
    let source = config.database();
    anyhow::ensure!(
        matches!(source, DatabaseUrl::Sqlite(_)),
        "the source must be an embedded (SQLite) instance, not PostgreSQL"
    );
    let DatabaseUrl::Postgres(target) = DatabaseUrl::parse(to_database)? else {
        anyhow::bail!("--to-database must be a postgres:// URL");
    };
    let from = docent_store::sqlite::SqliteStore::open(&source.url()).await?;
    let to = docent_store::postgres::PgStore::open(&target).await?;
    let report = docent_store::copy::sqlite_to_postgres(from.pool(), to.pool()).await?;
    for (table, rows) in &report.tables {
        println!("{table:<16} {rows:>10} rows");
    }
    if let Some(target) = to_storage {
        let target = StorageUrl::parse(target).context("--to-storage")?;
        let blobs = |url| docent_store::blob::ObjectBlobStore::open(url, &config.server.data_dir);
        let copied = blobs(config.storage.url.as_ref())?
            .copy_all_to(&blobs(Some(&target))?)
            .await?;
        println!("{:<16} {copied:>10} objects", "files");
    }
    println!(
        "copied; start the nodes with DOCENT_DATABASE_URL (and DOCENT_STORAGE_URL) set to the targets"
    );
    Ok(())
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_env("DOCENT_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    // Colour only for a person at a terminal: redirected to a file or a log
    // collector, escape codes are noise (`NO_COLOR` turns them off too).
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}
