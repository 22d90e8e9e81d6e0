//! Certificates: issuing one certificate for a set of names and checking the ones hosts hold.
//!
//! `spec` is what a task declares; `issuer` issues through the `local_ca` or `acme`
//! (DNS-01, with a provider from `dns`); `inspect` decides whether a host's certificate
//! still fits the spec; `stored` keeps the last one issued, so that every host gets the
//! same. Everything here runs on the controller.

pub mod acme;
mod bundle;
pub mod dns;
mod error;
pub mod inspect;
mod issuer;
mod issuer_config;
mod key;
pub mod local_ca;
mod private_file;
mod propagation;
mod secret;
pub mod spec;
pub mod stored;

pub use bundle::same_certificates;
pub use bundle::IssuedCert;
pub use error::CertError;
pub use inspect::{check, summary, CertProblem, CertStatus, HeldCert, KeyEvidence};
pub use issuer::{issue, obtain, trust_root};
pub use issuer_config::{AcmeConfig, IssuerConfig, LocalCaConfig, PropagationConfig};
pub use local_ca::LocalCa;
pub use secret::Secret;
pub use spec::{CertSpec, KeyType};
