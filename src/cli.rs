//! The command line: `apply`, `plan` and `check`, their options and exit codes.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::engine::{self, Loaded, Options};
use crate::output::{Format, Reporter};
use crate::vars::redact::redact;

const EXIT_CODES: &str = "\
Exit codes:
  apply   0 success; 1 any error (bad input, unreachable host, failed task)
  plan    0 nothing to change; 2 changes pending; 1 error
  check   0 the playbook is valid; 1 it is not";

#[derive(Debug, Parser)]
#[command(name = "dsprov", version, about = "Declarative provisioning over SSH: diff each host against the playbook, then apply", after_help = EXIT_CODES)]
pub struct Cli {
    /// More diagnostics on stderr (-v, -vv, -vvv); DSPROV_LOG sets a filter directly.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply the playbook: change each host to what it declares.
    #[command(after_help = EXIT_CODES)]
    Apply(RunArgs),
    /// Dry run: show what apply would change on each host, touching nothing.
    #[command(after_help = EXIT_CODES)]
    Plan(RunArgs),
    /// Validate offline: parse, resolve variables, render every template for every host.
    #[command(after_help = EXIT_CODES)]
    Check(CheckArgs),
}

#[derive(Debug, Args)]
struct Inputs {
    /// The playbook to run.
    playbook: PathBuf,
    /// Inventory file (YAML or INI); default: inventory.yml beside the playbook.
    #[arg(short, long)]
    inventory: Option<PathBuf>,
    /// Only run on hosts matching this pattern (a:b union, a:!b exclusion, a:&b intersection).
    #[arg(short, long)]
    limit: Option<String>,
    /// Extra variables, KEY=VALUE or @FILE.yml; they win over every other variable.
    #[arg(short = 'e', long = "extra-vars", value_name = "KEY=VALUE|@FILE")]
    extra_vars: Vec<String>,
}

#[derive(Debug, Args)]
struct CheckArgs {
    #[command(flatten)]
    inputs: Inputs,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// Only run tasks with these tags.
    #[arg(long, value_delimiter = ',')]
    tags: Vec<String>,
    /// Skip tasks with these tags.
    #[arg(long, value_delimiter = ',')]
    skip_tags: Vec<String>,
    /// How many hosts are worked on at once.
    #[arg(short, long, default_value_t = 10)]
    forks: usize,
    /// Show a diff of every change.
    #[arg(long)]
    diff: bool,
    /// Change nothing; report what would change.
    #[arg(long)]
    check: bool,
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,
    /// known_hosts file to verify host keys against (default ~/.ssh/known_hosts).
    #[arg(long)]
    known_hosts: Option<PathBuf>,
    /// Private key to log in with, tried after the ssh-agent.
    #[arg(long)]
    private_key: Option<PathBuf>,
    /// Record the keys of hosts not in known_hosts instead of refusing them.
    #[arg(long)]
    accept_new_host_keys: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Text,
    Json,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    match cli.command {
        Command::Check(args) => check(args),
        Command::Apply(args) => run(args, false),
        Command::Plan(args) => run(args, true),
    }
}

fn fail(message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {}", redact(message));
    ExitCode::from(1)
}

fn options(inputs: &Inputs) -> Result<Options, String> {
    let mut extra = serde_json::Map::new();
    for arg in &inputs.extra_vars {
        extra.extend(crate::vars::parse_extra_var(arg)?);
    }
    Ok(Options {
        playbook: inputs.playbook.clone(),
        inventory: inputs.inventory.clone(),
        limit: inputs.limit.clone(),
        extra_vars: extra,
        forks: 10,
        ..Options::default()
    })
}

/// Loads and validates everything that can be validated without a host.
fn prepare(opts: &Options) -> Result<Loaded, String> {
    let loaded = Loaded::load(opts).map_err(|e| e.to_string())?;
    loaded.check_offline(opts).map_err(|e| e.to_string())?;
    let findings = crate::lint::run(&loaded, opts);
    if !findings.is_empty() {
        let text: Vec<String> = findings.iter().map(|f| f.to_string()).collect();
        return Err(format!(
            "lint found {} problem(s):\n  {}",
            findings.len(),
            text.join("\n  ")
        ));
    }
    Ok(loaded)
}

fn check(args: CheckArgs) -> ExitCode {
    let opts = match options(&args.inputs) {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    match prepare(&opts) {
        Ok(loaded) => {
            let tasks: usize = loaded.playbook.plays.iter().map(|p| p.tasks.len()).sum();
            println!(
                "{}: {} play(s), {} task(s), {} host(s): ok",
                opts.playbook.display(),
                loaded.playbook.plays.len(),
                tasks,
                loaded.inventory.hosts.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

fn run(args: RunArgs, plan: bool) -> ExitCode {
    let mut opts = match options(&args.inputs) {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    opts.tags = args.tags;
    opts.skip_tags = args.skip_tags;
    opts.forks = args.forks;
    opts.check = plan || args.check;
    opts.known_hosts = args.known_hosts;
    opts.private_key = args.private_key;
    opts.accept_new_host_keys = args.accept_new_host_keys;

    let loaded = match prepare(&opts) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let format = match args.format {
        FormatArg::Text => Format::Text,
        FormatArg::Json => Format::Json,
    };
    let reporter = Reporter::new(format, plan || args.diff);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime starts");
    let result = runtime.block_on(engine::run(&loaded, &opts, &reporter));
    reporter.finish();
    if let Err(e) = result {
        return fail(&e.to_string());
    }

    if reporter.any_failed() {
        ExitCode::from(1)
    } else if plan && reporter.changed() > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// Diagnostics on stderr, off unless asked for, with secrets masked.
fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("DSPROV_LOG") {
        Ok(f) => EnvFilter::new(f),
        Err(_) => EnvFilter::new(match verbose {
            0 => "off",
            1 => "dsprov=info",
            2 => "dsprov=debug",
            _ => "dsprov=trace,russh=debug",
        }),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RedactingStderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

struct RedactingStderr;

impl Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = redact(&String::from_utf8_lossy(buf));
        std::io::stderr().write_all(text.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
