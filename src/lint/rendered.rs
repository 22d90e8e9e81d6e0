//! What each host of each play would get, compiled the way a run compiles it: the
//! content of every file written by `copy` and `template`, and every declared certificate.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::engine::{Compiler, Loaded, Options, Scope};
use crate::resources::certificate::Certificate;
use crate::resources::copy::ManagedFile;
use crate::resources::Resource;

/// One host as one play would leave it.
#[derive(Debug, Default)]
pub struct HostView {
    pub host: String,
    /// Rendered content by destination path; a later task writing the same path wins.
    pub files: BTreeMap<String, String>,
    /// The names of each certificate the host declares.
    pub certificates: Vec<Vec<String>>,
}

impl HostView {
    /// What `resources` (one host's compiled tasks, in order) would leave on `host`.
    pub fn of<'a>(host: &str, resources: impl IntoIterator<Item = &'a dyn Resource>) -> HostView {
        let mut view = HostView {
            host: host.to_string(),
            ..HostView::default()
        };
        for resource in resources {
            let any = resource.as_any();
            if let Some(file) = any.downcast_ref::<ManagedFile>() {
                let content = String::from_utf8_lossy(&file.content).into_owned();
                view.files.insert(file.dest.clone(), content);
            } else if let Some(cert) = any.downcast_ref::<Certificate>() {
                view.certificates.push(cert.names().to_vec());
            }
        }
        view
    }

    /// Files whose destination is under `dir` (which ends with `/`), in path order.
    pub fn files_under<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.files
            .iter()
            .filter(move |(dest, _)| dest.starts_with(dir))
            .map(|(d, c)| (d.as_str(), c.as_str()))
    }
}

/// Every play's hosts, each compiled with `facts` where given and stand-ins otherwise.
/// A play whose hosts cannot be selected, or a task that does not compile, is skipped:
/// reporting those is `check_offline`'s job.
pub fn plays(
    loaded: &Loaded,
    opts: &Options,
    facts: &BTreeMap<String, Value>,
) -> Vec<Vec<HostView>> {
    let mut plays = Vec::new();
    for play in &loaded.playbook.plays {
        let Ok(hosts) = loaded.play_hosts(play, opts.limit.as_deref()) else {
            continue;
        };
        let mut views = Vec::new();
        for host in &hosts {
            let scope = Scope {
                play,
                host,
                vars: loaded.host_vars(play, &hosts, host, facts, opts),
                secrets: loaded.secrets.clone(),
                groups: loaded.groups.clone(),
                inventory_dir: &loaded.inventory_dir,
            };
            let mut compiler = Compiler::new(scope);
            let instances: Vec<_> = play
                .tasks
                .iter()
                .filter_map(|task| compiler.task(task).ok())
                .flatten()
                .collect();
            views.push(HostView::of(
                host,
                instances.iter().filter_map(|i| i.resource.as_deref()),
            ));
        }
        plays.push(views);
    }
    plays
}
