//! Everything the user sees goes through `Reporter`: task lines, diffs, the progress bar,
//! the recap, or the JSON document. Secrets are masked here, on the way out.

pub mod diff;

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use console::Style;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::resources::Change;
use crate::vars::redact::redact;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Changed,
    Failed,
    Skipped,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Changed => "changed",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }

    fn style(self) -> Style {
        match self {
            Status::Ok => Style::new().green(),
            Status::Changed => Style::new().yellow(),
            Status::Failed => Style::new().red().bold(),
            Status::Skipped => Style::new().cyan(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// Per-host totals for the recap and the JSON document.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HostReport {
    pub ok: usize,
    pub changed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub unreachable: bool,
    pub tasks: Vec<TaskReport>,
    #[serde(skip)]
    pub elapsed: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskReport {
    pub task: String,
    pub status: Status,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub diff: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub struct Reporter {
    format: Format,
    show_diff: bool,
    colour: bool,
    progress: Option<ProgressBar>,
    hosts: Mutex<BTreeMap<String, HostReport>>,
    /// The task being reported, so results of loop items can show their item.
    current: Mutex<String>,
}

impl Reporter {
    pub fn new(format: Format, show_diff: bool) -> Reporter {
        let terminal = std::io::stderr().is_terminal();
        let colour = format == Format::Text && std::io::stdout().is_terminal();
        Reporter {
            format,
            show_diff,
            colour,
            progress: None,
            hosts: Mutex::new(BTreeMap::new()),
            current: Mutex::new(String::new()),
        }
        .with_progress(terminal)
    }

    fn with_progress(mut self, terminal: bool) -> Reporter {
        if terminal && self.format == Format::Text {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{pos}/{len}] {wide_msg}")
                    .expect("progress template is valid"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            self.progress = Some(bar);
        }
        self
    }

    /// Prints a line of normal output, above the progress bar.
    fn line(&self, text: &str) {
        if self.format == Format::Json {
            return;
        }
        let text = redact(text);
        match &self.progress {
            Some(bar) => bar.suspend(|| println!("{text}")),
            None => println!("{text}"),
        }
    }

    fn paint(&self, text: &str, style: Style) -> String {
        if self.colour {
            style.apply_to(text).to_string()
        } else {
            text.to_string()
        }
    }

    pub fn play(&self, name: &str, hosts: &[String], tasks: usize) {
        for h in hosts {
            self.hosts
                .lock()
                .expect("report lock")
                .entry(h.clone())
                .or_default();
        }
        if let Some(bar) = &self.progress {
            bar.inc_length((tasks * hosts.len()) as u64);
        }
        let title = format!(
            "PLAY {} [{}]",
            if name.is_empty() { "(unnamed)" } else { name },
            hosts.join(", ")
        );
        self.line(&self.paint(&title, Style::new().bold()));
    }

    pub fn task(&self, label: &str) {
        self.line(&format!("TASK {label}"));
        *self.current.lock().expect("report lock") = label.to_string();
        if let Some(bar) = &self.progress {
            bar.set_message(redact(label));
        }
    }

    /// One host's outcome of one task (or one loop item of it).
    pub fn result(
        &self,
        host: &str,
        task: &str,
        status: Status,
        changes: &[Change],
        error: Option<&str>,
    ) {
        let diff = if self.show_diff && !changes.is_empty() {
            diff::render(changes, false)
        } else {
            String::new()
        };
        let error = error.map(redact);

        let mut line = format!("  {}: {}", self.paint(status.word(), status.style()), host);
        let current = self.current.lock().expect("report lock").clone();
        if let Some(item) = task
            .strip_prefix(current.as_str())
            .filter(|rest| !rest.is_empty())
        {
            line.push_str(item);
        }
        if let Some(e) = &error {
            line.push_str(&format!(" — {e}"));
        } else if !changes.is_empty() && !self.show_diff {
            let summary: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
            line.push_str(&format!(" ({})", summary.join("; ")));
        }
        self.line(&line);
        if self.show_diff && !changes.is_empty() {
            let shown = diff::render(changes, self.colour);
            for l in shown.lines() {
                self.line(&format!("    {l}"));
            }
        }

        let mut hosts = self.hosts.lock().expect("report lock");
        let report = hosts.entry(host.to_string()).or_default();
        match status {
            Status::Ok => report.ok += 1,
            Status::Changed => report.changed += 1,
            Status::Failed => report.failed += 1,
            Status::Skipped => report.skipped += 1,
        }
        report.tasks.push(TaskReport {
            task: redact(task),
            status,
            diff: redact(&diff),
            error,
        });
    }

    pub fn advance(&self) {
        if let Some(bar) = &self.progress {
            bar.inc(1);
        }
    }

    pub fn unreachable(&self, host: &str, error: &str) {
        self.line(&format!(
            "  {}: {host} — {error}",
            self.paint("unreachable", Style::new().red().bold())
        ));
        let mut hosts = self.hosts.lock().expect("report lock");
        let report = hosts.entry(host.to_string()).or_default();
        report.unreachable = true;
        report.tasks.push(TaskReport {
            task: "connect".into(),
            status: Status::Failed,
            diff: String::new(),
            error: Some(redact(error)),
        });
    }

    pub fn elapsed(&self, host: &str, elapsed: Duration) {
        self.hosts
            .lock()
            .expect("report lock")
            .entry(host.to_string())
            .or_default()
            .elapsed = elapsed;
    }

    /// A message that is not about one task (a warning, a lint finding).
    pub fn note(&self, text: &str) {
        if self.format == Format::Text {
            let text = redact(text);
            match &self.progress {
                Some(bar) => bar.suspend(|| eprintln!("{text}")),
                None => eprintln!("{text}"),
            }
        }
    }

    /// Total changes over all hosts.
    pub fn changed(&self) -> usize {
        self.hosts
            .lock()
            .expect("report lock")
            .values()
            .map(|h| h.changed)
            .sum()
    }

    /// Whether any host failed or was unreachable.
    pub fn any_failed(&self) -> bool {
        self.hosts
            .lock()
            .expect("report lock")
            .values()
            .any(|h| h.failed > 0 || h.unreachable)
    }

    /// The recap (text) or the whole JSON document.
    pub fn finish(&self) {
        if let Some(bar) = &self.progress {
            bar.finish_and_clear();
        }
        let hosts = self.hosts.lock().expect("report lock");
        match self.format {
            Format::Json => {
                #[derive(Serialize)]
                struct Doc<'a> {
                    hosts: &'a BTreeMap<String, HostReport>,
                    changed: usize,
                }
                let doc = Doc {
                    hosts: &hosts,
                    changed: hosts.values().map(|h| h.changed).sum(),
                };
                let text = serde_json::to_string_pretty(&doc).expect("report serialises");
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}", redact(&text));
            }
            Format::Text => {
                println!("\nRECAP");
                for (name, h) in hosts.iter() {
                    println!(
                        "  {name:<20} ok={:<3} changed={:<3} failed={:<3} skipped={:<3} unreachable={:<3} {:.1}s",
                        h.ok,
                        h.changed,
                        h.failed,
                        h.skipped,
                        u8::from(h.unreachable),
                        h.elapsed.as_secs_f64()
                    );
                }
            }
        }
    }
}
