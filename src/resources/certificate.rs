//! `certificate`: one certificate for a set of names, issued on the controller and
//! written to every host that declares it, with the issuer's root in their trust store.
//!
//! The probe reads the host's files (of the key only the public half when the host has
//! openssl); `diff` checks them against the spec and against the controller's stored copy
//! of the cluster's certificate; `apply` writes the stored copy while it is still good,
//! or issues once per run for every host declaring the same spec.

mod files;
mod held;
mod plan;
mod trust;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::OnceCell;

use super::remote::{quote, write_file_script};
use super::{ArgError, Args, BuildCtx, Change, HostHandle, Probe, Resource, ResourceError};
use crate::cert::{self, CertSpec, IssuedCert};
use files::{CertFiles, Part};
use held::Held;
use plan::{Controller, HostPlan, TrustAction};
use trust::TrustEntry;

#[derive(Debug)]
pub struct Certificate {
    spec: CertSpec,
    files: CertFiles,
    /// Where the issuer's root goes on the host; `None` when there is nothing to trust
    /// (a public ACME CA) or `trust_store: false`.
    trust: Option<TrustEntry>,
}

impl Certificate {
    /// The DNS names the certificate is for (lint checks peers' names against them).
    pub fn names(&self) -> &[String] {
        &self.spec.names
    }

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

        let files = CertFiles::from_args(args)?;
        let trust = match args.bool("trust_store")? {
            Some(false) => None,
            _ => TrustEntry::for_spec(&spec),
        };
        Ok(Certificate { spec, files, trust })
    }

    /// The controller's side of a decision, read now: the issuer's root and the stored
    /// copy of the cluster's certificate.
    fn controller_state(&self) -> Result<(Option<String>, Option<IssuedCert>), ResourceError> {
        let err = |e: cert::CertError| ResourceError::new(e.to_string());
        let root = cert::trust_root(&self.spec).map_err(err)?;
        let stored = cert::stored::reusable(&self.spec, root.as_deref()).map_err(err)?;
        Ok((root, stored))
    }

    fn plan(&self, observed: &Probe) -> Result<(HostPlan, Vec<Change>), ResourceError> {
        let (root, stored) = self.controller_state()?;
        let ctl = Controller {
            spec: &self.spec,
            files: &self.files,
            trust: self.trust.as_ref(),
            root: root.as_deref(),
            stored: stored.as_ref(),
        };
        let plan = HostPlan::new(&ctl, &Held::parse(observed));
        let changes = plan.changes(&ctl);
        Ok((plan, changes))
    }

    /// The script writing `issued` to the declared files, key first.
    fn write_script(&self, issued: &IssuedCert) -> String {
        let mut script = String::new();
        for file in self.files.iter() {
            let content = match file.part {
                Part::Key => &issued.key_pem,
                Part::Cert => &issued.cert_pem,
                Part::Chain => &issued.chain_pem,
                Part::Fullchain => &issued.fullchain_pem,
            };
            script.push_str(&write_file_script(
                &file.path,
                content.as_bytes(),
                &file.attrs,
                None,
                false,
            ));
        }
        script
    }
}

/// The certificate for each spec in this run, shared by every host declaring it: the
/// stored copy or a new one, obtained once (a failure too is shared, not retried per host).
/// Kept in the run's `engine::Shared`.
#[derive(Debug, Default)]
pub struct RunCertificates(Mutex<HashMap<String, RunCell>>);

type RunCell = Arc<OnceCell<Result<IssuedCert, String>>>;

impl RunCertificates {
    async fn obtain_once(&self, spec: &CertSpec) -> Result<IssuedCert, ResourceError> {
        // The Debug form redacts secrets but tells apart names, key types and issuers.
        let cell = self
            .0
            .lock()
            .expect("certificate cells lock")
            .entry(format!("{spec:?}"))
            .or_default()
            .clone();
        cell.get_or_init(|| async {
            cert::obtain(spec)
                .await
                .map(|(issued, _)| issued)
                .map_err(|e| e.to_string())
        })
        .await
        .clone()
        .map_err(ResourceError::new)
    }
}

#[async_trait]
impl Resource for Certificate {
    fn probe(&self) -> String {
        held::probe(&self.files, self.trust.as_ref())
    }

    fn diff(&self, observed: &Probe) -> Result<Vec<Change>, ResourceError> {
        Ok(self.plan(observed)?.1)
    }

    async fn apply(
        &self,
        host: &HostHandle<'_>,
        observed: &Probe,
        _changes: &[Change],
    ) -> Result<(), ResourceError> {
        let (plan, _) = self.plan(observed)?;
        let mut script = String::from("set -e\n");
        if !plan.reasons.is_empty() {
            let issued = host.shared.certificates.obtain_once(&self.spec).await?;
            script.push_str(&self.write_script(&issued));
        }
        for (path, attrs, _) in &plan.fix_attrs {
            script.push_str(&attrs.set_script(&quote(path)));
        }
        if let Some(entry) = &self.trust {
            let root = match plan.trust {
                TrustAction::None => None,
                TrustAction::Refresh => Some(None),
                // Read after issuing: a local CA made by this apply exists now.
                TrustAction::Install { .. } => match cert::trust_root(&self.spec) {
                    Ok(Some(root)) => Some(Some(root)),
                    Ok(None) => return Err(ResourceError::new("the issuer has no root to trust")),
                    Err(e) => return Err(ResourceError::new(e.to_string())),
                },
            };
            if let Some(root) = root {
                script.push_str(&entry.install_script(root.as_deref()));
            }
        }
        host.run_ok(
            &format!("write certificate {}", self.files.cert().path),
            &script,
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
