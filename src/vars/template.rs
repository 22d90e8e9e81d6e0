//! Rendering Tera: template files, strings in task arguments, and `when` expressions.
//!
//! One `Renderer` per host, because the functions it offers (`host_index`) answer for
//! that host. A string that is exactly one `{{ expression }}` yields the expression's
//! value itself, so `loop: "{{ groups.mail }}"` is a list, not its text.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use tera::{Context, Tera};

use super::secrets::Secrets;

pub struct Renderer {
    tera: Tera,
}

impl Renderer {
    /// `groups` is the inventory's group → hosts map, `host` the host rendered for.
    pub fn new(
        secrets: Arc<Secrets>,
        groups: Arc<serde_json::Map<String, Value>>,
        host: &str,
    ) -> Renderer {
        let mut tera = Tera::default();
        tera.autoescape_on(vec![]);
        let salts = secrets.clone();

        tera.register_function(
            "password",
            move |args: &HashMap<String, Value>| -> tera::Result<Value> {
                let name = args
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or("password() needs name=\"...\"")?;
                let length = args.get("length").and_then(Value::as_u64).unwrap_or(32) as usize;
                if !(8..=128).contains(&length) {
                    return Err("password(): length must be between 8 and 128".into());
                }
                secrets
                    .password(name, length)
                    .map(Value::String)
                    .map_err(Into::into)
            },
        );

        tera.register_function(
            "sha512_crypt",
            move |args: &HashMap<String, Value>| -> tera::Result<Value> {
                let password = args
                    .get("password")
                    .and_then(Value::as_str)
                    .ok_or("sha512_crypt() needs password=\"...\"")?;
                let seed = args
                    .get("salt_seed")
                    .and_then(Value::as_str)
                    .ok_or("sha512_crypt() needs salt_seed=\"...\"")?;
                let key = salts.password("dsprov_crypt_salt_key", 32)?;
                let hash = sha512_crypt(password, &key, seed)?;
                super::redact::register(&hash);
                Ok(Value::String(hash))
            },
        );

        let me = host.to_string();
        tera.register_function(
            "host_index",
            move |args: &HashMap<String, Value>| -> tera::Result<Value> {
                let group = args
                    .get("group")
                    .and_then(Value::as_str)
                    .ok_or("host_index() needs group=\"...\"")?;
                let host = args.get("host").and_then(Value::as_str).unwrap_or(&me);
                let members = groups
                    .get(group)
                    .and_then(Value::as_array)
                    .ok_or_else(|| format!("host_index(): no group `{group}`"))?;
                members
                    .iter()
                    .position(|h| h.as_str() == Some(host))
                    .map(|i| Value::from(i as u64))
                    .ok_or_else(|| format!("host_index(): {host} is not in group `{group}`").into())
            },
        );

        tera.register_filter("bool", |value: &Value, _: &HashMap<String, Value>| {
            Ok(Value::Bool(truthy(value)))
        });

        Renderer { tera }
    }

    /// Renders `text`; text without Tera markup is returned as it is.
    pub fn render_str(&mut self, text: &str, ctx: &Context) -> Result<String, String> {
        if !text.contains("{{") && !text.contains("{%") && !text.contains("{#") {
            return Ok(text.to_string());
        }
        self.tera.render_str(text, ctx).map_err(describe)
    }

    /// Renders every string inside `value`. A string that is one `{{ expr }}` becomes
    /// the expression's value (list, map, number...), as Ansible users expect.
    pub fn render_value(&mut self, value: &Value, ctx: &Context) -> Result<Value, String> {
        match value {
            Value::String(s) => match single_expression(s) {
                Some(expr) => {
                    let json = self
                        .tera
                        .render_str(
                            &format!("{{% set dsprov_value = {expr} %}}{{{{ dsprov_value | json_encode() | safe }}}}"),
                            ctx,
                        )
                        .map_err(describe)?;
                    serde_json::from_str(&json).map_err(|e| format!("`{expr}`: {e}"))
                }
                None => self.render_str(s, ctx).map(Value::String),
            },
            Value::Array(items) => items
                .iter()
                .map(|v| self.render_value(v, ctx))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| Ok((k.clone(), self.render_value(v, ctx)?)))
                .collect::<Result<serde_json::Map<_, _>, String>>()
                .map(Value::Object),
            other => Ok(other.clone()),
        }
    }

    /// Evaluates a bare `when` expression such as `role == "primary"`.
    pub fn eval_bool(&mut self, expr: &str, ctx: &Context) -> Result<bool, String> {
        let out = self
            .tera
            .render_str(
                &format!("{{% if {expr} %}}true{{% else %}}false{{% endif %}}"),
                ctx,
            )
            .map_err(describe)?;
        Ok(out == "true")
    }

    pub fn render_file(&mut self, path: &Path, ctx: &Context) -> Result<String, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read template {}: {e}", path.display()))?;
        self.tera
            .render_str(&text, ctx)
            .map_err(|e| format!("template {}: {}", path.display(), describe(e)))
    }

    /// Checks that `expr` parses as a `when` condition, without evaluating it.
    pub fn check_condition(expr: &str) -> Result<(), String> {
        let mut tera = Tera::default();
        tera.add_raw_template("when", &format!("{{% if {expr} %}}{{% endif %}}"))
            .map(|_| ())
            .map_err(describe_parse)
    }

    /// Checks a template's syntax without rendering it.
    pub fn check_syntax(name: &str, text: &str) -> Result<(), String> {
        let mut tera = Tera::default();
        tera.add_raw_template(name, text)
            .map(|_| ())
            .map_err(describe)
    }
}

/// A SHA512-CRYPT hash (`$6$salt$hash`, 5000 rounds) whose salt is derived from `seed`
/// with a secret key, so the same password always gives the same hash: a second apply
/// then changes nothing, while the salt stays unpredictable without the key.
fn sha512_crypt(password: &str, key: &str, seed: &str) -> Result<String, String> {
    use hmac::{Hmac, Mac};
    const ALPHABET: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).map_err(|e| e.to_string())?;
    mac.update(seed.as_bytes());
    let salt: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .take(16)
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect();
    let params =
        sha_crypt::Sha512Params::new(sha_crypt::ROUNDS_DEFAULT).map_err(|e| format!("{e:?}"))?;
    let hash = sha_crypt::sha512_crypt_b64(password.as_bytes(), salt.as_bytes(), &params)
        .map_err(|e| format!("{e:?}"))?;
    Ok(format!("$6${salt}${hash}"))
}

/// Ansible-style truthiness, for the `bool` filter.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => matches!(s.to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1"),
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// The expression of a string that is exactly `{{ expression }}`.
fn single_expression(s: &str) -> Option<&str> {
    // No trimming: "{{ motd }}\n" is text with a newline, not a lone expression.
    let inner = s.strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") {
        return None;
    }
    Some(inner.trim())
}

/// Tera's error with its causes, which hold the useful part ("Variable `x` not found").
fn describe(err: tera::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    parts.retain(|p| !p.starts_with("Failed to render '__tera_one_off'"));
    if parts.is_empty() {
        parts.push(err.to_string());
    }
    // The name Tera gives a string it renders is its own business, not the user's.
    parts
        .join(": ")
        .replace(" while rendering '__tera_one_off'", "")
        .replace("'__tera_one_off'", "the text")
}

/// A parse error of a wrapped expression, without the wrapper the user never wrote:
/// only pest's "expected ..." line.
fn describe_parse(err: tera::Error) -> String {
    let full = describe(err);
    full.lines()
        .find_map(|l| l.trim().strip_prefix("= "))
        .map(str::to_string)
        .unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn renderer() -> Renderer {
        let dir = tempfile::tempdir().unwrap();
        let secrets = Arc::new(Secrets::load(dir.path()).unwrap());
        let groups = json!({"mail": ["mail1", "mail2"]})
            .as_object()
            .unwrap()
            .clone();
        Renderer::new(secrets, Arc::new(groups), "mail2")
    }

    fn ctx() -> Context {
        Context::from_value(json!({"pkgs": ["a", "b"], "role": "primary", "n": 3})).unwrap()
    }

    #[test]
    fn a_lone_expression_keeps_its_type() {
        let mut r = renderer();
        assert_eq!(
            r.render_value(&json!("{{ pkgs }}"), &ctx()).unwrap(),
            json!(["a", "b"])
        );
        assert_eq!(
            r.render_value(&json!("{{ n + 1 }}"), &ctx()).unwrap(),
            json!(4)
        );
        assert_eq!(
            r.render_value(&json!("n={{ n }}"), &ctx()).unwrap(),
            json!("n=3")
        );
    }

    #[test]
    fn bare_when_expressions_evaluate() {
        let mut r = renderer();
        assert!(r.eval_bool("role == \"primary\"", &ctx()).unwrap());
        assert!(!r.eval_bool("n > 5", &ctx()).unwrap());
        assert!(r.eval_bool("missing is not defined", &ctx()).unwrap());
    }

    #[test]
    fn crypt_hashes_are_stable_and_verify() {
        let a = sha512_crypt("secret", "key", "alice@example.test").unwrap();
        assert_eq!(
            a,
            sha512_crypt("secret", "key", "alice@example.test").unwrap()
        );
        assert_ne!(
            a,
            sha512_crypt("secret", "key", "bob@example.test").unwrap()
        );
        assert!(a.starts_with("$6$") && a.len() > 90, "{a}");
        // Checked against the reference implementation's own verifier.
        assert!(sha_crypt::sha512_check("secret", &a).is_ok());
    }

    #[test]
    fn host_index_answers_for_the_rendered_host() {
        let mut r = renderer();
        assert_eq!(
            r.render_str("{{ host_index(group=\"mail\") }}", &ctx())
                .unwrap(),
            "1"
        );
    }

    #[test]
    fn unknown_variables_are_named() {
        let mut r = renderer();
        let err = r.render_str("{{ nope }}", &ctx()).unwrap_err();
        assert!(err.contains("nope"), "{err}");
    }
}
