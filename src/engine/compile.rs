//! Compiling a play for one host: variables resolved, loops expanded, `when` evaluated,
//! arguments rendered and resources built. Done once without facts before connecting
//! (so bad input fails early) and again with the host's real facts.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};
use tera::Context;

use crate::playbook::{Play, Task};
use crate::resources::{registry, Args, BuildCtx, Resource};
use crate::source::InputError;
use crate::vars::secrets::Secrets;
use crate::vars::template::Renderer;

/// One task (or one loop item of it) ready to run on a host.
#[derive(Debug)]
pub struct Instance {
    pub label: String,
    /// `None` when `when` said no.
    pub resource: Option<Box<dyn Resource>>,
    pub become_root: bool,
}

/// Everything a host's compile needs from the run.
pub struct Scope<'a> {
    pub play: &'a Play,
    pub host: &'a str,
    /// Variables after precedence, without the task-level `item`.
    pub vars: Map<String, Value>,
    pub secrets: Arc<Secrets>,
    pub groups: Arc<Map<String, Value>>,
    pub inventory_dir: &'a Path,
}

pub struct Compiler<'a> {
    scope: Scope<'a>,
    renderer: Renderer,
    context: Context,
    /// Variables still holding a template that could not be rendered on its own.
    unresolved: Vec<String>,
}

impl<'a> Compiler<'a> {
    pub fn new(scope: Scope<'a>) -> Compiler<'a> {
        let mut renderer = Renderer::new(scope.secrets.clone(), scope.groups.clone(), scope.host);
        let (vars, unresolved) = resolve_nested(&mut renderer, scope.vars.clone());
        let context = Context::from_value(Value::Object(vars)).expect("vars are a mapping");
        Compiler {
            unresolved,
            scope,
            renderer,
            context,
        }
    }

    /// The instances of `task` on this host: one per loop item, or one.
    pub fn task(&mut self, task: &Task) -> Result<Vec<Instance>, InputError> {
        let fail = |msg: String, host: &str| {
            InputError::new(
                task.location.clone(),
                format!("task `{}` on {host}: {msg}", task.label()),
            )
        };
        let host = self.scope.host;

        let items: Vec<Option<Value>> = match &task.loop_items {
            None => vec![None],
            Some(raw) => match self.renderer.render_value(raw, &self.context) {
                Ok(Value::Array(items)) => items.into_iter().map(Some).collect(),
                Ok(other) => {
                    return Err(fail(format!("`loop` must give a list, got {other}"), host))
                }
                Err(e) => return Err(fail(format!("`loop`: {e}"), host)),
            },
        };

        let mut instances = Vec::new();
        for item in items {
            let mut ctx = self.context.clone();
            let label = match &item {
                Some(v) => {
                    ctx.insert("item", v);
                    format!("{} ({})", task.label(), short(v))
                }
                None => task.label(),
            };
            let become_root = task.become_root.unwrap_or(self.scope.play.become_root);

            let mut wanted = true;
            for cond in &task.when {
                let yes = self
                    .renderer
                    .eval_bool(cond, &ctx)
                    .map_err(|e| fail(format!("`when: {cond}`: {e}"), host))?;
                wanted &= yes;
            }
            if !wanted {
                instances.push(Instance {
                    label,
                    resource: None,
                    become_root,
                });
                continue;
            }

            let mut rendered = self
                .renderer
                .render_value(&task.args, &ctx)
                .map_err(|e| fail(e, host))?;
            // An argument that took the value of an unresolved variable holds its template
            // still: rendering once more resolves it here, or says what is missing.
            let text = task.args.to_string();
            if self.unresolved.iter().any(|v| mentions(&text, v)) {
                rendered = self
                    .renderer
                    .render_value(&rendered, &ctx)
                    .map_err(|e| fail(e, host))?;
            }
            let Value::Object(args) = rendered else {
                return Err(fail("arguments must be a mapping".into(), host));
            };
            // The host's renderer, lent to the resource for its template file.
            let renderer = std::sync::Mutex::new(&mut self.renderer);
            let render_file = |path: &Path| -> Result<String, String> {
                renderer
                    .lock()
                    .expect("renderer lock")
                    .render_file(path, &ctx)
            };
            let build = BuildCtx {
                host,
                file_dirs: &task.file_dirs,
                template_dirs: &task.template_dirs,
                inventory_dir: self.scope.inventory_dir,
                render_file: &render_file,
            };
            let resource = registry::build(&task.module, Args::new(&task.module, args), &build)
                .map_err(|e| {
                    let located = task.location_of(&e.message);
                    InputError::new(located, fail(e.to_string(), host).message)
                })?;
            instances.push(Instance {
                label,
                resource: Some(resource),
                become_root,
            });
        }
        Ok(instances)
    }
}

/// Variables whose values are templates themselves (`peer: "{{ groups.mail[1] }}"`) are
/// rendered against the other variables, dependencies first: a variable is rendered only
/// once no variable it mentions is still a template. One that cannot be rendered (it
/// needs facts, say) is left as written and rendered where it is used.
fn resolve_nested(
    renderer: &mut Renderer,
    mut vars: Map<String, Value>,
) -> (Map<String, Value>, Vec<String>) {
    let mut unresolved = Vec::new();
    let mut pending: Vec<String> = vars
        .iter()
        .filter(|(_, v)| has_markup(v))
        .map(|(k, _)| k.clone())
        .collect();
    while !pending.is_empty() {
        let ready: Vec<String> = pending
            .iter()
            .filter(|k| {
                let text = vars[k.as_str()].to_string();
                !pending
                    .iter()
                    .any(|other| other != *k && mentions(&text, other))
            })
            .cloned()
            .collect();
        // A cycle, or only variables that mention each other: render them as they are.
        let batch = if ready.is_empty() {
            pending.clone()
        } else {
            ready
        };
        for key in &batch {
            let ctx = Context::from_value(Value::Object(vars.clone())).expect("vars are a mapping");
            match renderer.render_value(&vars[key.as_str()], &ctx) {
                Ok(value) => {
                    vars.insert(key.clone(), value);
                }
                Err(e) => {
                    tracing::debug!(variable = %key, "left unrendered for now: {e}");
                    unresolved.push(key.clone());
                }
            }
        }
        pending.retain(|k| !batch.contains(k));
    }
    (vars, unresolved)
}

/// Whether template `text` mentions variable `name` as a whole word.
fn mentions(text: &str, name: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(name).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + name.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

fn has_markup(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("{{") || s.contains("{%"),
        Value::Array(items) => items.iter().any(has_markup),
        Value::Object(map) => map.values().any(has_markup),
        _ => false,
    }
}

/// A loop item as shown in a task label.
fn short(v: &Value) -> String {
    // Masked before it is cut: a cut secret would no longer be recognised.
    let text = crate::vars::redact::redact(&match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}
