//! `certificate`: one certificate for a set of names, issued on the controller and
//! written to each host that declares it.
//!
//! The probe reads the host's certificate, chain and key (only the public half when the
//! host has openssl); `diff` runs `cert::check` against the spec; `apply` issues once
//! per run for every host declaring the same spec and writes the files.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use base64::Engine as _;

use super::remote::{quote, write_file_script, Attrs};
use super::{ArgError, Args, BuildCtx, Change, HostHandle, Probe, Resource, ResourceError};
use crate::cert::{self, CertSpec, HeldCert, IssuedCert, KeyEvidence};

#[derive(Debug)]
pub struct Certificate {
    spec: CertSpec,
    cert: String,
    chain: Option<String>,
    fullchain: Option<String>,
    key: String,
    /// Owner, group and mode of the key (mode 0600 unless declared, e.g. 0640 to a group).
    key_attrs: Attrs,
    /// Where to install the issuer's root, if anywhere (then `update-ca-certificates`).
    ca_file: Option<String>,
}

impl Certificate {
    pub fn from_args(args: &mut Args, ctx: &BuildCtx) -> Result<Certificate, ArgError> {
        let mut value = serde_json::Map::new();
        for field in ["names", "key_type", "issuer", "renew_before"] {
            if let Some(v) = args.value(field) {
                value.insert(field.to_string(), v);
            }
        }
        let mut spec = CertSpec::from_value(&serde_json::Value::Object(value))
            .map_err(|e| args.error(e.to_string()))?;
        spec.resolve_paths(ctx.inventory_dir);

        let key_attrs = Attrs {
            mode: Some(args.mode("mode")?.unwrap_or(0o600)),
            owner: args.str("owner")?,
            group: args.str("group")?,
        };
        if key_attrs.mode.is_some_and(|m| m & 0o007 != 0) {
            return Err(args.error("`mode` of the key must not give others access"));
        }
        Ok(Certificate {
            cert: args.req_str("cert")?,
            chain: args.str("chain")?,
            fullchain: args.str("fullchain")?,
            key: args.req_str("key")?,
            ca_file: args.str("ca_file")?,
            key_attrs,
            spec,
        })
    }

    /// The DNS names the certificate is for (lint checks peers' names against them).
    pub fn names(&self) -> &[String] {
        &self.spec.names
    }

    fn decoded(observed: &Probe, field: &str) -> Option<String> {
        let raw = observed.field(field)?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(raw).ok()?;
        String::from_utf8(bytes).ok()
    }
}

/// Certificates issued in this run, by spec: every host declaring it gets the same one.
fn issued_this_run() -> &'static Mutex<HashMap<String, Arc<tokio::sync::OnceCell<IssuedCert>>>> {
    static ISSUED: OnceLock<Mutex<HashMap<String, Arc<tokio::sync::OnceCell<IssuedCert>>>>> =
        OnceLock::new();
    ISSUED.get_or_init(Default::default)
}

async fn issue_once(spec: &CertSpec) -> Result<IssuedCert, ResourceError> {
    // The Debug form redacts secrets but tells apart names, key types and issuers.
    let key = format!("{spec:?}");
    let cell = issued_this_run()
        .lock()
        .unwrap()
        .entry(key)
        .or_default()
        .clone();
    cell.get_or_try_init(|| cert::issue(spec))
        .await
        .cloned()
        .map_err(|e| ResourceError::new(e.to_string()))
}

#[async_trait]
impl Resource for Certificate {
    fn probe(&self) -> String {
        let mut script = String::from(
            "show() { if [ -r \"$2\" ]; then printf '%s=' \"$1\"; base64 -w0 < \"$2\"; echo; fi; }\n",
        );
        script.push_str(&format!("show cert {}\n", quote(&self.cert)));
        if let Some(chain) = &self.chain {
            script.push_str(&format!("show chain {}\n", quote(chain)));
        }
        let k = quote(&self.key);
        // Only the public half travels when the host can compute it.
        script.push_str(&format!(
            "if [ -r {k} ]; then\n\
               if command -v openssl >/dev/null 2>&1; then\n\
                 printf 'keypub='; openssl pkey -in {k} -pubout 2>/dev/null | base64 -w0; echo\n\
               else show key {k}; fi\n\
             fi\n"
        ));
        script
    }

    fn diff(&self, observed: &Probe) -> Result<Vec<Change>, ResourceError> {
        let cert_pem = Self::decoded(observed, "cert");
        let chain_pem = Self::decoded(observed, "chain");
        let key_pub = Self::decoded(observed, "keypub").filter(|k| !k.trim().is_empty());
        let key_pem = Self::decoded(observed, "key");
        let key = match (&key_pub, &key_pem) {
            (Some(public), _) => Some(KeyEvidence::PublicKeyPem(public)),
            (None, Some(private)) => Some(KeyEvidence::PrivateKeyPem(private)),
            (None, None) => None,
        };
        let held = HeldCert {
            cert_pem: cert_pem.as_deref(),
            chain_pem: chain_pem.as_deref(),
            key,
        };
        let root = cert::trust_root(&self.spec).map_err(|e| ResourceError::new(e.to_string()))?;
        let status = cert::check(&held, &self.spec, root.as_deref());
        if status.is_valid() {
            return Ok(Vec::new());
        }
        let reasons: Vec<String> = status.problems().iter().map(|p| p.to_string()).collect();
        Ok(vec![Change::Run {
            what: format!(
                "issue a certificate for {} ({}) and write {}",
                self.spec.names.join(", "),
                reasons.join("; "),
                self.cert
            ),
        }])
    }

    async fn apply(
        &self,
        host: &HostHandle<'_>,
        _observed: &Probe,
        _changes: &[Change],
    ) -> Result<(), ResourceError> {
        let issued = issue_once(&self.spec).await?;
        let public = Attrs {
            mode: Some(0o644),
            owner: self.key_attrs.owner.clone(),
            group: self.key_attrs.group.clone(),
        };

        // Key first: a new certificate must never sit beside the old key.
        let mut script = write_file_script(
            &self.key,
            issued.key_pem.as_bytes(),
            &self.key_attrs,
            None,
            false,
        );
        script.push_str(&write_file_script(
            &self.cert,
            issued.cert_pem.as_bytes(),
            &public,
            None,
            false,
        ));
        if let Some(chain) = &self.chain {
            script.push_str(&write_file_script(
                chain,
                issued.chain_pem.as_bytes(),
                &public,
                None,
                false,
            ));
        }
        if let Some(fullchain) = &self.fullchain {
            script.push_str(&write_file_script(
                fullchain,
                issued.fullchain_pem.as_bytes(),
                &public,
                None,
                false,
            ));
        }
        if let (Some(ca_file), Some(root)) = (&self.ca_file, &issued.root_pem) {
            let root_attrs = Attrs {
                mode: Some(0o644),
                owner: None,
                group: None,
            };
            script.push_str(&write_file_script(
                ca_file,
                root.as_bytes(),
                &root_attrs,
                None,
                false,
            ));
            script.push_str("if command -v update-ca-certificates >/dev/null 2>&1; then update-ca-certificates >/dev/null; fi\n");
        }
        host.run_ok(&format!("write certificate {}", self.cert), &script)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resource(ca_dir: &std::path::Path) -> Certificate {
        let values = json!({
            "names": ["mail.example.test", "mx1.example.test"],
            "issuer": { "local_ca": { "dir": ca_dir } },
            "cert": "/etc/ssl/mail.pem", "key": "/etc/ssl/mail.key", "mode": "0640", "group": "mail",
        });
        let mut args = Args::new("certificate", values.as_object().unwrap().clone());
        let render = |_: &std::path::Path| Ok(String::new());
        let ctx = BuildCtx {
            host: "mx1",
            file_dirs: &[],
            template_dirs: &[],
            inventory_dir: ca_dir,
            render_file: &render,
        };
        let resource = Certificate::from_args(&mut args, &ctx).unwrap();
        args.finish().unwrap();
        resource
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[tokio::test]
    async fn missing_then_converged() {
        let tmp = tempfile::tempdir().unwrap();
        let res = resource(&tmp.path().join("ca"));

        let changes = res.diff(&Probe::default()).unwrap();
        assert!(
            matches!(&changes[..], [Change::Run { what }] if what.contains("no certificate")),
            "{changes:?}"
        );

        let issued = issue_once(&res.spec).await.unwrap();
        let again = issue_once(&res.spec).await.unwrap();
        assert_eq!(issued.cert_pem, again.cert_pem, "issued once per run");

        let probe = Probe {
            status: 0,
            stdout: format!(
                "cert={}\nkey={}\n",
                b64(&issued.cert_pem),
                b64(&issued.key_pem)
            ),
        };
        assert!(res.diff(&probe).unwrap().is_empty());
        assert!(res.probe().contains("openssl pkey"));
    }
}
