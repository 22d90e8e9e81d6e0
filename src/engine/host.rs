//! One host's part of a run: its connection, its compiled tasks, the probe results it
//! holds, the handlers it owes.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::compile::{Compiler, Instance};
use super::facts::{Facts, PENDING_HANDLERS};
use super::probe;
use super::{Loaded, Shared};
use crate::output::{Reporter, Status};
use crate::playbook::{Play, Task};
use crate::resources::remote::quote;
use crate::resources::{Change, HostHandle, Probe, Resource};
use crate::transport::Transport;

pub struct HostRun {
    pub name: String,
    pub transport: Arc<dyn Transport>,
    pub facts: Facts,
    pub failed: bool,
    /// This play's tasks compiled for this host, indexed like the play's selected tasks.
    steps: Vec<Vec<Instance>>,
    /// Probe results by (task, item), valid until this host changes.
    probes: HashMap<(usize, usize), Probe>,
    /// Handlers owed, by name, in the order they were notified.
    notified: Vec<String>,
    vars: Map<String, Value>,
    token: String,
    /// In check mode: an earlier task would have changed this host, so what later
    /// tasks see is not what they would see in a real run.
    pending_changes: bool,
}

impl HostRun {
    pub fn new(name: String, transport: Arc<dyn Transport>, facts: Facts) -> HostRun {
        let token = format!("@@dsprov-{:016x}", rand::random::<u64>());
        HostRun {
            name,
            transport,
            facts,
            failed: false,
            steps: Vec::new(),
            probes: HashMap::new(),
            notified: Vec::new(),
            vars: Map::new(),
            token,
            pending_changes: false,
        }
    }

    fn shell(&self, become_root: bool) -> &'static str {
        if become_root && self.facts.user != "root" {
            "sudo -n sh -s"
        } else {
            "sh -s"
        }
    }

    /// Compiles the play's tasks with the host's facts and takes over handlers owed
    /// from an earlier run.
    pub fn start_play(
        &mut self,
        loaded: &Loaded,
        play: &Play,
        tasks: &[&Task],
        vars: Map<String, Value>,
        reporter: &Reporter,
    ) {
        self.probes.clear();
        self.steps.clear();
        self.notified.clear();
        let mut compiler = Compiler::new(loaded.scope(play, &self.name, vars.clone()));
        for task in tasks {
            match compiler.task(task) {
                Ok(instances) => self.steps.push(instances),
                Err(e) => {
                    reporter.result(
                        &self.name,
                        &task.label(),
                        Status::Failed,
                        &[],
                        Some(&e.to_string()),
                    );
                    self.failed = true;
                    return;
                }
            }
        }
        self.vars = vars;

        // Rules that need facts (which Dovecot the host runs), on what was just compiled:
        // a finding stops the host before anything is written that cannot work there.
        let view = crate::lint::HostView::of(
            &self.name,
            self.steps
                .iter()
                .flatten()
                .filter_map(|i| i.resource.as_deref()),
        );
        let findings = crate::lint::check_with_facts(&view, &self.facts.value);
        if !findings.is_empty() {
            let text: Vec<String> = findings.iter().map(|f| f.to_string()).collect();
            reporter.result(
                &self.name,
                "lint",
                Status::Failed,
                &[],
                Some(&text.join("\n")),
            );
            self.failed = true;
            return;
        }

        for name in &self.facts.pending_handlers {
            let defined = play
                .handlers
                .iter()
                .any(|h| &h.name == name || h.listen.contains(name));
            if defined && !self.notified.contains(name) {
                reporter.note(&format!(
                    "{}: handler `{name}` is still owed from an earlier run",
                    self.name
                ));
                self.notified.push(name.clone());
            }
        }
    }

    pub fn is_notified(&self, handler: &Task) -> bool {
        self.notified
            .iter()
            .any(|n| n == &handler.name || handler.listen.contains(n))
    }

    /// The probe of item `item` of task `index`, reading the state of every later task
    /// in the same round trip when it is not known yet.
    async fn probe(&mut self, index: usize, item: usize) -> Result<Probe, String> {
        if let Some(p) = self.probes.get(&(index, item)) {
            return Ok(p.clone());
        }
        // Only tasks running as the same user share a batch: a probe run as root would
        // see another HOME and other permissions than the task itself.
        let become_root = self.steps[index][item].become_root;
        let mut keys = Vec::new();
        let mut scripts = Vec::new();
        for (t, instances) in self.steps.iter().enumerate().skip(index) {
            for (i, inst) in instances.iter().enumerate() {
                if (t == index && i < item) || inst.become_root != become_root {
                    continue;
                }
                if let Some(resource) = &inst.resource {
                    scripts.push((keys.len(), resource.probe()));
                    keys.push((t, i));
                }
            }
        }
        let script = probe::batch_script(&self.token, &scripts);
        let out = self
            .transport
            .exec(self.shell(become_root), script.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        for (k, p) in probe::split(&self.token, &out.stdout_text()) {
            if let Some(key) = keys.get(k) {
                self.probes.insert(*key, p);
            }
        }
        self.probes.get(&(index, item)).cloned().ok_or_else(|| {
            format!(
                "probing the host failed (exit {}): {}",
                out.status,
                out.stderr_text().trim()
            )
        })
    }

    /// The resource's changes. In a dry run after earlier pending changes, a resource that
    /// cannot be judged yet (`service: mariadb` before the package bringing the unit is
    /// installed) is pending, not failed.
    fn diff(
        &self,
        resource: &dyn Resource,
        observed: &Probe,
        shared: &Shared,
    ) -> Result<Vec<Change>, String> {
        match resource.diff(observed) {
            Ok(changes) => Ok(changes),
            Err(e) if shared.check && self.pending_changes => Ok(vec![Change::Run {
                what: format!("(known after the changes above) {e}"),
            }]),
            Err(e) => Err(e.to_string()),
        }
    }

    fn fail(&mut self, reporter: &Reporter, label: &str, error: &str) {
        reporter.result(&self.name, label, Status::Failed, &[], Some(error));
        self.failed = true;
    }

    pub async fn run_task(
        &mut self,
        index: usize,
        task: &Task,
        skip: bool,
        shared: &Shared,
        reporter: &Reporter,
    ) {
        let count = self.steps.get(index).map_or(0, Vec::len);
        if skip || count == 0 {
            reporter.result(&self.name, &task.label(), Status::Skipped, &[], None);
            reporter.advance();
            return;
        }
        for item in 0..count {
            let label = self.steps[index][item].label.clone();
            if self.steps[index][item].resource.is_none() {
                reporter.result(&self.name, &label, Status::Skipped, &[], None);
                continue;
            }
            let observed = match self.probe(index, item).await {
                Ok(p) => p,
                Err(e) => return self.fail(reporter, &label, &e),
            };
            let inst = &self.steps[index][item];
            let resource = inst.resource.as_deref().expect("checked above");
            let changes = match self.diff(resource, &observed, shared) {
                Ok(c) => c,
                Err(e) => return self.fail(reporter, &label, &e),
            };
            if changes.is_empty() {
                reporter.result(&self.name, &label, Status::Ok, &[], None);
                continue;
            }
            if !shared.check {
                let shell = self.shell(inst.become_root);
                if let Err(e) = apply(
                    &self.name,
                    &*self.transport,
                    shell,
                    shared,
                    resource,
                    &observed,
                    &changes,
                )
                .await
                {
                    return self.fail(reporter, &label, &e);
                }
                // The host changed: what was probed for later tasks may be stale.
                self.probes.clear();
                if let Err(e) = self.notify(&task.notify).await {
                    return self.fail(reporter, &label, &e);
                }
            } else {
                self.pending_changes = true;
                for n in &task.notify {
                    if !self.notified.contains(n) {
                        self.notified.push(n.clone());
                    }
                }
            }
            reporter.result(&self.name, &label, Status::Changed, &changes, None);
        }
        reporter.advance();
    }

    /// Records handlers as owed, on the host first, so a failure later does not lose them.
    async fn notify(&mut self, names: &[String]) -> Result<(), String> {
        let new: Vec<&String> = names
            .iter()
            .filter(|n| !self.notified.contains(n))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let mut script = format!("set -e\nmkdir -p \"$(dirname {0})\"\n", PENDING_HANDLERS);
        for n in &new {
            script.push_str(&format!(
                "printf '%s\\n' {} >> {PENDING_HANDLERS}\n",
                quote(n)
            ));
        }
        self.run_bookkeeping("cannot record notified handlers", &script)
            .await?;
        self.notified.extend(new.into_iter().cloned());
        Ok(())
    }

    /// Runs a notified handler. A handler always applies, even when its state already
    /// holds: `service: state=restarted` restarts, `command` runs.
    pub async fn run_handler(
        &mut self,
        loaded: &Loaded,
        play: &Play,
        handler: &Task,
        shared: &Shared,
        reporter: &Reporter,
    ) {
        let mut compiler = Compiler::new(loaded.scope(play, &self.name, self.vars.clone()));
        let instances = match compiler.task(handler) {
            Ok(i) => i,
            Err(e) => {
                let label = format!("HANDLER {}", handler.label());
                return self.fail(reporter, &label, &e.to_string());
            }
        };
        for mut inst in instances {
            // Reported apart from tasks of the same name, in text and in JSON.
            inst.label = format!("HANDLER {}", inst.label);
            let Some(resource) = &inst.resource else {
                reporter.result(&self.name, &inst.label, Status::Skipped, &[], None);
                continue;
            };
            let shell = self.shell(inst.become_root);
            let observed = match self
                .transport
                .exec(shell, probe_alone(resource.as_ref()).as_bytes())
                .await
            {
                Ok(out) => Probe {
                    status: out.status,
                    stdout: out.stdout_text(),
                },
                Err(e) => return self.fail(reporter, &inst.label, &e.to_string()),
            };
            let changes = match self.diff(resource.as_ref(), &observed, shared) {
                Ok(c) => c,
                Err(e) => return self.fail(reporter, &inst.label, &e),
            };
            // No difference is the handler's usual case: `apply` with no changes is the
            // action itself (a service restarts, a command runs).
            let shown = if changes.is_empty() {
                vec![Change::Run {
                    what: format!("handler {}", handler.label()),
                }]
            } else {
                changes.clone()
            };
            if !shared.check {
                if let Err(e) = apply(
                    &self.name,
                    &*self.transport,
                    shell,
                    shared,
                    resource.as_ref(),
                    &observed,
                    &changes,
                )
                .await
                {
                    return self.fail(reporter, &inst.label, &e);
                }
            }
            reporter.result(&self.name, &inst.label, Status::Changed, &shown, None);
        }
        self.probes.clear();
    }

    /// After the play's handlers ran: what this host was owed is paid, here and in the
    /// record on the host. Done once for all handlers, so that several handlers
    /// listening to one name all run. A failed host keeps what it is owed.
    pub async fn settle_handlers(&mut self, play: &Play, shared: &Shared, reporter: &Reporter) {
        if self.failed || shared.check || self.notified.is_empty() {
            return;
        }
        let names: Vec<String> = play
            .handlers
            .iter()
            .flat_map(|h| std::iter::once(h.name.clone()).chain(h.listen.iter().cloned()))
            .filter(|n| self.notified.contains(n))
            .collect();
        match self.forget_handlers(&names).await {
            Ok(()) => self.facts.pending_handlers.retain(|n| !names.contains(n)),
            Err(e) => self.fail(reporter, "handlers", &e),
        }
    }

    /// Runs one of the engine's own bookkeeping scripts, as the SSH user (its record
    /// lives where that user may write: see `facts::PENDING_HANDLERS`).
    async fn run_bookkeeping(&self, failure: &str, script: &str) -> Result<(), String> {
        let out = self
            .transport
            .exec("sh -s", script.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        if out.success() {
            Ok(())
        } else {
            Err(format!("{failure}: {}", out.stderr_text().trim()))
        }
    }

    async fn forget_handlers(&mut self, names: &[String]) -> Result<(), String> {
        let mut script = format!("f={PENDING_HANDLERS}\n[ -f \"$f\" ] || exit 0\ngrep -vxF");
        for n in names {
            script.push_str(&format!(" -e {}", quote(n)));
        }
        script.push_str(" \"$f\" > \"$f.new\" || true\nmv -f \"$f.new\" \"$f\"\n[ -s \"$f\" ] || rm -f \"$f\"\n");
        self.run_bookkeeping("cannot clear run handlers", &script)
            .await?;
        self.notified.retain(|n| !names.contains(n));
        Ok(())
    }
}

fn probe_alone(resource: &dyn Resource) -> String {
    format!("( {}\n) </dev/null 2>/dev/null\n", resource.probe())
}

async fn apply(
    name: &str,
    transport: &dyn Transport,
    shell: &str,
    shared: &Shared,
    resource: &dyn Resource,
    observed: &Probe,
    changes: &[Change],
) -> Result<(), String> {
    let handle = HostHandle {
        name,
        transport,
        shell,
        shared,
    };
    resource
        .apply(&handle, observed, changes)
        .await
        .map_err(|e| e.to_string())
}
