use std::process::ExitCode;

use clap::{ArgGroup, Parser, Subcommand};
use crm_server::config::Settings;
use crm_server::seed::SeedOptions;
use crm_server::startup::Application;
use migration::{Migrator, MigratorTrait};

#[derive(Parser)]
#[command(
    name = "crm-server",
    version,
    about = "Multi-tenant CRM opportunity server (GraphQL)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply pending migrations, or list them with --status.
    Migrate {
        #[arg(long)]
        status: bool,
    },
    /// Print the GraphQL SDL (what schema.graphql must equal).
    Schema,
    /// Migrate, then fill the database with generated data. The same seed
    /// always generates the same rows.
    #[command(group = ArgGroup::new("what").required(true).multiple(true).args(["demo", "scale"]))]
    Seed {
        /// One small tenant, "demo", to click through.
        #[arg(long)]
        demo: bool,
        /// N opportunities spread over 10 tenants, scale-1 .. scale-10.
        #[arg(long, value_name = "N")]
        scale: Option<u32>,
        /// Every generated value, ids included, derives from this number.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// The password of every seeded user.
        #[arg(long, default_value = crm_server::seed::DEFAULT_PASSWORD)]
        password: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Schema) = cli.command {
        print!("{}", crm_server::graphql::sdl());
        return ExitCode::SUCCESS;
    }
    crm_server::telemetry::init();
    crm_server::telemetry::install_panic_hook();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("configuration: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        None | Some(Command::Serve) => serve(settings).await,
        Some(Command::Migrate { status }) => migrate(settings, status).await,
        Some(Command::Seed {
            demo,
            scale,
            seed,
            password,
        }) => {
            let opts = SeedOptions {
                demo,
                scale,
                seed,
                password,
            };
            run_seed(settings, opts).await
        }
        Some(Command::Schema) => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let app = Application::build(settings).await?;
    crm_server::startup::spawn_signal_watch(app.close_sockets());
    app.run_until_stopped().await?;
    Ok(())
}

async fn migrate(settings: Settings, status: bool) -> Result<(), Box<dyn std::error::Error>> {
    let db = crm_server::db::connect(
        &settings.database_url,
        2,
        std::time::Duration::from_secs(3600),
    )
    .await?;
    if status {
        for m in Migrator::get_migration_with_status(&db).await? {
            println!("{}\t{}", m.name(), m.status());
        }
    } else {
        crm_server::db::migrate(&db).await?;
        println!("migrations applied");
    }
    Ok(())
}

async fn run_seed(settings: Settings, opts: SeedOptions) -> Result<(), Box<dyn std::error::Error>> {
    let db = crm_server::db::connect(
        &settings.database_url,
        2,
        std::time::Duration::from_secs(3600),
    )
    .await?;
    crm_server::db::migrate(&db).await?;
    let report = crm_server::seed::run(&db, opts).await?;
    print!("{report}");
    Ok(())
}
