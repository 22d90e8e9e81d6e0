//! Planning and running plays: which tasks run on which hosts, in what order, and what
//! each changed.
//!
//! The strategy is Ansible's `linear`: each task runs on every host of the play (in
//! parallel, up to `forks`) before the next task starts, so a task can rely on the
//! previous one having finished on all hosts (replication set up on both servers before
//! either points at the other). Each host is probed in batches: one round trip reads the
//! state of every remaining task, and only a change on that host makes it probe again.

mod compile;
mod connect;
pub mod facts;
mod host;
mod probe;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value};

use crate::inventory::Inventory;
use crate::output::Reporter;
use crate::playbook::{Play, Playbook};
use crate::source::{InputError, Location};
use crate::vars::{merge_layers, secrets::Secrets};

pub use compile::{Compiler, Instance, Scope};
use host::HostRun;

/// State shared by all hosts of one run, kept on the controller.
#[derive(Debug, Default)]
pub struct Shared {
    /// Whether this is a dry run (resources that act on the controller check it).
    pub check: bool,
    /// Certificates obtained in this run, one per spec, for every host that declares it.
    pub certificates: crate::resources::certificate::RunCertificates,
}

/// How to run, as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub playbook: PathBuf,
    pub inventory: Option<PathBuf>,
    pub limit: Option<String>,
    pub tags: Vec<String>,
    pub skip_tags: Vec<String>,
    pub extra_vars: Map<String, Value>,
    pub forks: usize,
    pub check: bool,
    pub known_hosts: Option<PathBuf>,
    pub private_key: Option<PathBuf>,
    pub accept_new_host_keys: bool,
}

/// The inputs of a run, loaded and checked.
pub struct Loaded {
    pub playbook: Playbook,
    pub inventory: Inventory,
    pub inventory_dir: PathBuf,
    pub secrets: Arc<Secrets>,
    pub groups: Arc<Map<String, Value>>,
}

impl Loaded {
    pub fn load(opts: &Options) -> Result<Loaded, InputError> {
        let playbook_dir = opts
            .playbook
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let inventory_path = opts
            .inventory
            .clone()
            .unwrap_or_else(|| playbook_dir.join("inventory.yml"));
        if !inventory_path.exists() {
            return Err(InputError::new(
                Location::file(&inventory_path),
                "inventory not found (give one with -i)",
            ));
        }
        let inventory_dir = inventory_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let inventory = Inventory::load(&inventory_path, &[inventory_dir.clone(), playbook_dir])?;
        let playbook = crate::playbook::load(&opts.playbook)?;
        let secrets = Arc::new(Secrets::load(&inventory_dir)?);
        let groups = Arc::new(inventory.groups_map());
        Ok(Loaded {
            playbook,
            inventory,
            inventory_dir,
            secrets,
            groups,
        })
    }

    /// The hosts a play runs on, after `--limit`.
    pub fn play_hosts(&self, play: &Play, limit: Option<&str>) -> Result<Vec<String>, InputError> {
        let mut hosts = self
            .inventory
            .select(&play.hosts)
            .map_err(|e| InputError::new(play.location.clone(), format!("hosts: {e}")))?;
        if let Some(limit) = limit {
            let allowed = self.inventory.select(limit).map_err(|e| {
                InputError::new(
                    Location::file(&self.inventory.path),
                    format!("--limit: {e}"),
                )
            })?;
            hosts.retain(|h| allowed.contains(h));
        }
        Ok(hosts)
    }

    /// A host's variables in a play, precedence applied, built-ins added.
    pub fn host_vars(
        &self,
        play: &Play,
        play_hosts: &[String],
        host: &str,
        facts: &BTreeMap<String, Value>,
        opts: &Options,
    ) -> Map<String, Value> {
        let inventory_vars = self.inventory.vars_for(host);
        // Secrets are variables too (`{{ cloudflare_api_token }}`), just above the
        // inventory's, and also under `secrets.`.
        let secret_vars = match self.secrets.as_value() {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let mut vars = merge_layers([
            &play.role_defaults,
            &inventory_vars,
            &secret_vars,
            &play.vars,
            &play.role_vars,
            &opts.extra_vars,
        ]);

        let mut hostvars = Map::new();
        for other in &self.inventory.hosts {
            let mut v = self.inventory.vars_for(&other.name);
            v.insert(
                "inventory_hostname".into(),
                Value::String(other.name.clone()),
            );
            if let Some(f) = facts.get(&other.name) {
                v.insert("facts".into(), f.clone());
            }
            hostvars.insert(other.name.clone(), Value::Object(v));
        }
        let own_facts = facts
            .get(host)
            .cloned()
            .unwrap_or_else(|| facts::placeholder(host));

        vars.insert("inventory_hostname".into(), Value::String(host.to_string()));
        vars.insert("groups".into(), Value::Object((*self.groups).clone()));
        vars.insert("hostvars".into(), Value::Object(hostvars));
        vars.insert(
            "play_hosts".into(),
            Value::Array(play_hosts.iter().cloned().map(Value::String).collect()),
        );
        vars.insert("facts".into(), own_facts);
        vars.insert("secrets".into(), self.secrets.as_value());
        vars
    }

    fn scope<'a>(&'a self, play: &'a Play, host: &'a str, vars: Map<String, Value>) -> Scope<'a> {
        Scope {
            play,
            host,
            vars,
            secrets: self.secrets.clone(),
            groups: self.groups.clone(),
            inventory_dir: &self.inventory_dir,
        }
    }

    /// Compiles every task and handler of every play for every host without connecting,
    /// with stand-in facts: bad variables, templates and arguments fail here.
    pub fn check_offline(&self, opts: &Options) -> Result<(), InputError> {
        let no_facts = BTreeMap::new();
        for play in &self.playbook.plays {
            let hosts = self.play_hosts(play, opts.limit.as_deref())?;
            for host in &hosts {
                let vars = self.host_vars(play, &hosts, host, &no_facts, opts);
                let mut compiler = Compiler::new(self.scope(play, host, vars));
                for task in play.tasks.iter().chain(&play.handlers) {
                    compiler.task(task)?;
                }
            }
        }
        Ok(())
    }
}

/// Runs the playbook: connects, gathers facts, and runs each play. Errors in input that
/// only show with real facts fail the host they concern, not the run.
pub async fn run(loaded: &Loaded, opts: &Options, reporter: &Reporter) -> Result<(), InputError> {
    let started = Instant::now();
    let shared = Shared {
        check: opts.check,
        ..Shared::default()
    };

    // Connect to every host any play needs, once, in parallel.
    let mut wanted: Vec<String> = Vec::new();
    for play in &loaded.playbook.plays {
        for h in loaded.play_hosts(play, opts.limit.as_deref())? {
            if !wanted.contains(&h) {
                wanted.push(h);
            }
        }
    }
    let mut hosts = connect::connect_all(loaded, opts, &wanted, reporter).await;

    for play in &loaded.playbook.plays {
        let names = loaded.play_hosts(play, opts.limit.as_deref())?;
        // Facts are those gathered at connect time: a later play sees the package versions
        // the run started with, not what earlier plays installed.
        let facts: BTreeMap<String, Value> = hosts
            .iter()
            .map(|h| (h.name.clone(), h.facts.value.clone()))
            .collect();
        let tasks: Vec<_> = play
            .tasks
            .iter()
            .filter(|t| t.selected(&opts.tags, &opts.skip_tags))
            .collect();
        reporter.play(&play.name, &names, tasks.len());

        let mut active: Vec<&mut HostRun> = hosts
            .iter_mut()
            .filter(|h| names.contains(&h.name) && !h.failed)
            .collect();
        for host in active.iter_mut() {
            let vars = loaded.host_vars(play, &names, &host.name, &facts, opts);
            host.start_play(loaded, play, &tasks, vars, reporter);
        }

        for (index, task) in tasks.iter().enumerate() {
            reporter.task(&task.label());
            let first = active.iter().find(|h| !h.failed).map(|h| h.name.clone());
            let limit = Arc::new(tokio::sync::Semaphore::new(opts.forks.max(1)));
            let runs = active.iter_mut().filter(|h| !h.failed).map(|host| {
                let limit = limit.clone();
                let skip = task.run_once && Some(&host.name) != first.as_ref();
                let shared = &shared;
                async move {
                    let _permit = limit.acquire().await.expect("semaphore open");
                    host.run_task(index, task, skip, shared, reporter).await;
                }
            });
            futures::future::join_all(runs).await;
        }

        for handler in &play.handlers {
            let runs = active
                .iter_mut()
                .filter(|h| !h.failed && h.is_notified(handler))
                .map(|host| {
                    let shared = &shared;
                    async move {
                        host.run_handler(loaded, play, handler, shared, reporter)
                            .await
                    }
                });
            let runs: Vec<_> = runs.collect();
            if !runs.is_empty() {
                reporter.task(&format!("HANDLER {}", handler.label()));
                futures::future::join_all(runs).await;
            }
        }
        let settles = active
            .iter_mut()
            .map(|host| host.settle_handlers(play, &shared, reporter));
        futures::future::join_all(settles).await;
    }

    for host in &hosts {
        reporter.elapsed(&host.name, started.elapsed());
        host.transport.close().await;
    }
    Ok(())
}
