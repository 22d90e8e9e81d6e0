//! Deciding what one host needs: the certificate written (and why), attributes fixed,
//! the issuer's root trusted. `diff` shows it, `apply` carries it out.

use super::files::{CertFiles, Part};
use super::held::Held;
use super::trust::TrustEntry;
use crate::cert::{self, CertSpec, IssuedCert, IssuerConfig};
use crate::resources::remote::Attrs;
use crate::resources::Change;

/// What the host needs, computed from the probe, the spec and the controller's state.
#[derive(Debug, Default)]
pub struct HostPlan {
    /// Why the certificate files must be written; empty when they are right.
    pub reasons: Vec<String>,
    /// The stored copy that would be written, as `cert::summary` describes it; `None`
    /// means a new certificate would be issued.
    pub reuse: Option<String>,
    /// Files whose content is right but whose owner, group or mode is not.
    pub fix_attrs: Vec<(String, Attrs, Vec<Change>)>,
    pub trust: TrustAction,
}

#[derive(Debug, Default, PartialEq)]
pub enum TrustAction {
    #[default]
    None,
    /// Write the root (missing or different) and run `update-ca-certificates`.
    Install { replaces: bool },
    /// The file is right but not in the system bundle yet: run `update-ca-certificates`.
    Refresh,
}

/// The inputs of a decision that live on the controller.
pub struct Controller<'a> {
    pub spec: &'a CertSpec,
    pub files: &'a CertFiles,
    pub trust: Option<&'a TrustEntry>,
    /// What `cert::trust_root` returned: `None` for a local CA not created yet.
    pub root: Option<&'a str>,
    /// The stored copy, if it is still good for `spec`.
    pub stored: Option<&'a IssuedCert>,
}

impl HostPlan {
    pub fn new(ctl: &Controller<'_>, held: &Held) -> HostPlan {
        let mut plan = HostPlan {
            reasons: content_problems(ctl, held),
            reuse: ctl.stored.and_then(|s| cert::summary(&s.cert_pem)),
            ..HostPlan::default()
        };
        if plan.reasons.is_empty() {
            for file in ctl.files.iter() {
                let Some(state) = held.stat(file.part) else {
                    continue;
                };
                let changes = file.attrs.diff(&file.path, state);
                if !changes.is_empty() {
                    plan.fix_attrs
                        .push((file.path.clone(), file.attrs.clone(), changes));
                }
            }
        }
        plan.trust = match (ctl.trust, ctl.root, &held.trust) {
            (None, _, _) => TrustAction::None,
            (Some(_), Some(root), Some(installed)) if cert::same_certificates(root, installed) => {
                if held.trust_linked {
                    TrustAction::None
                } else {
                    TrustAction::Refresh
                }
            }
            (Some(_), _, installed) => TrustAction::Install {
                replaces: installed.is_some(),
            },
        };
        plan
    }

    pub fn changes(&self, ctl: &Controller<'_>) -> Vec<Change> {
        let mut changes = Vec::new();
        if !self.reasons.is_empty() {
            // `cert.pem: certificate expires in 3 days, ... -> new from the local CA in ...`
            let to = match &self.reuse {
                Some(summary) => format!("the cluster's ({summary})"),
                None => format!("new from {}", issuer_label(&ctl.spec.issuer)),
            };
            let missing = self.reasons == [cert::CertProblem::Missing.to_string()];
            changes.push(Change::Set {
                what: ctl.files.cert().path.clone(),
                field: "certificate".into(),
                from: if missing {
                    "-".into()
                } else {
                    self.reasons.join("; ")
                },
                to,
            });
        }
        for (_, _, set) in &self.fix_attrs {
            changes.extend(set.iter().cloned());
        }
        if let Some(entry) = ctl.trust {
            let root = match ctl.root {
                Some(_) => format!("the root of {}", issuer_label(&ctl.spec.issuer)),
                None => "the local CA's root (the CA is created on first issue)".to_string(),
            };
            match self.trust {
                TrustAction::None => {}
                TrustAction::Install { replaces: false } => changes.push(Change::Create {
                    what: format!("trust store entry {} with {root}", entry.path()),
                }),
                TrustAction::Install { replaces: true } => changes.push(Change::Run {
                    what: format!("replace trust store entry {} with {root}", entry.path()),
                }),
                TrustAction::Refresh => changes.push(Change::Run {
                    what: format!(
                        "update-ca-certificates ({} is not in the system bundle)",
                        entry.path()
                    ),
                }),
            }
        }
        changes
    }
}

/// Why the files must be written: `cert::check`'s problems, files that do not belong
/// to the certificate, or a certificate other than the one the rest of the cluster gets.
///
/// Known gap: with no stored copy yet (certificates put there before this copy existed,
/// or the copy deleted), a host holding a valid certificate keeps it in the run where a
/// peer gets a new one; it is brought to that one, now stored, on the next run.
fn content_problems(ctl: &Controller<'_>, held: &Held) -> Vec<String> {
    let status = cert::check(&held.as_held_cert(), ctl.spec, ctl.root);
    let mut reasons: Vec<String> = status.problems().iter().map(|p| p.to_string()).collect();
    if !reasons.is_empty() {
        return reasons;
    }
    let cert_pem = held.cert.as_deref().unwrap_or_default();

    if let Some(file) = ctl.files.get(Part::Chain) {
        if held.chain.is_none() {
            reasons.push(format!("{} is missing", file.path));
        }
    }
    if let Some(file) = ctl.files.get(Part::Fullchain) {
        let expected = format!("{cert_pem}{}", held.chain.as_deref().unwrap_or_default());
        match &held.fullchain {
            None => reasons.push(format!("{} is missing", file.path)),
            Some(full) if !cert::same_certificates(full, &expected) => reasons.push(format!(
                "{} does not hold the certificate and its chain",
                file.path
            )),
            Some(_) => {}
        }
    }
    if let Some(stored) = ctl.stored {
        if !cert::same_certificates(&stored.cert_pem, cert_pem) {
            let held = cert::summary(cert_pem).unwrap_or_else(|| "another one".into());
            reasons.push(format!(
                "holds {held}, not the certificate the other hosts get"
            ));
        }
    }
    reasons
}

fn issuer_label(issuer: &IssuerConfig) -> String {
    match issuer {
        IssuerConfig::LocalCa(ca) => format!("the local CA in {}", ca.dir.display()),
        IssuerConfig::Acme(acme) => format!("ACME at {}", acme.directory),
    }
}
