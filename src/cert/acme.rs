//! ACME v2 with DNS-01 through instant-acme: account, order, challenges, finalize, download.

use std::path::PathBuf;
use std::time::Duration;

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use rcgen::{CertificateParams, DistinguishedName};
use sha2::Digest;

use crate::cert::bundle::{pem_blocks, IssuedCert};
use crate::cert::dns::{self, DnsProvider, RecordHandle};
use crate::cert::private_file::{ensure_private_dir, write_atomic};
use crate::cert::{key, propagation, AcmeConfig, CertError, CertSpec};

/// pebble rejects a share of nonces on purpose; instant-acme retries each POST three
/// times, and dsprov retries a step a few more times on top of that.
const BAD_NONCE_RETRIES: usize = 3;
const BAD_NONCE: &str = "urn:ietf:params:acme:error:badNonce";
const ACCOUNT_GONE: &str = "urn:ietf:params:acme:error:accountDoesNotExist";

/// How long to wait for the CA to validate and to sign.
const ORDER_TIMEOUT: Duration = Duration::from_secs(120);

/// Repeats an ACME call while the server answers badNonce.
macro_rules! retry_bad_nonce {
    ($call:expr) => {{
        let mut attempt = 0;
        loop {
            match $call {
                Err(instant_acme::Error::Api(p))
                    if p.r#type.as_deref() == Some(BAD_NONCE) && attempt < BAD_NONCE_RETRIES =>
                {
                    attempt += 1;
                    tracing::debug!(attempt, "ACME badNonce, retrying");
                }
                other => break other,
            }
        }
    }};
}

/// Turns an ACME client error at `step` into ours, naming the directory.
fn acme_error<'a>(
    config: &'a AcmeConfig,
    step: &'static str,
) -> impl Fn(instant_acme::Error) -> CertError + 'a {
    move |e| CertError::Acme {
        step,
        directory: config.directory.clone(),
        reason: e.to_string(),
    }
}

/// Issues a certificate for all of `spec.names` in one order.
pub async fn issue(spec: &CertSpec, config: &AcmeConfig) -> Result<IssuedCert, CertError> {
    let acme_error = |step| acme_error(config, step);

    let provider = dns::provider(&config.dns)?;
    let identifiers: Vec<Identifier> = spec
        .names
        .iter()
        .map(|n| Identifier::Dns(n.clone()))
        .collect();

    let mut account = load_or_create_account(config, false).await?;
    let mut order = match retry_bad_nonce!(account.new_order(&NewOrder::new(&identifiers)).await) {
        // The server forgot us (a restarted pebble): register again, once.
        Err(instant_acme::Error::Api(p)) if p.r#type.as_deref() == Some(ACCOUNT_GONE) => {
            account = load_or_create_account(config, true).await?;
            retry_bad_nonce!(account.new_order(&NewOrder::new(&identifiers)).await)
                .map_err(acme_error("new order"))?
        }
        other => other.map_err(acme_error("new order"))?,
    };

    // Publish every challenge first, then validate, and remove the records whatever happened.
    let mut handles: Vec<RecordHandle> = Vec::new();
    let result = async {
        let mut pending = Vec::new();
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(acme_error("fetching authorization"))?;
            let name = authz.identifier().to_string();
            match authz.status {
                AuthorizationStatus::Valid => continue,
                AuthorizationStatus::Pending => {}
                status => {
                    return Err(CertError::Authorization {
                        name,
                        reason: format!("authorization is {status:?}"),
                    })
                }
            }
            let challenge =
                authz
                    .challenge(ChallengeType::Dns01)
                    .ok_or_else(|| CertError::Authorization {
                        name: name.clone(),
                        reason: "the server offers no dns-01 challenge".into(),
                    })?;
            let value = challenge.key_authorization().dns_value();
            let record = format!("_acme-challenge.{}.", name.trim_start_matches("*."));
            handles.push(provider.set_txt(&record, &value).await?);
            pending.push((record, value));
        }

        propagation::wait_visible(&pending, &config.propagation).await?;

        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(acme_error("fetching authorization"))?;
            if authz.status != AuthorizationStatus::Pending {
                continue;
            }
            if let Some(mut challenge) = authz.challenge(ChallengeType::Dns01) {
                retry_bad_nonce!(challenge.set_ready().await)
                    .map_err(acme_error("setting challenge ready"))?;
            }
        }

        let status = order
            .poll_ready(&RetryPolicy::new().timeout(ORDER_TIMEOUT))
            .await
            .map_err(acme_error("waiting for validation"))?;
        if status != OrderStatus::Ready {
            return Err(failed_authorization(&mut order, status).await);
        }
        Ok(())
    }
    .await;
    clear_all(provider.as_ref(), &handles).await;
    result?;

    let key = key::generate(spec.key_type)?;
    let mut params =
        CertificateParams::new(spec.names.clone()).map_err(|e| CertError::Signing {
            names: spec.names.join(", "),
            reason: e.to_string(),
        })?;
    params.distinguished_name = DistinguishedName::new();
    let csr = params
        .serialize_request(&key)
        .map_err(|e| CertError::Signing {
            names: spec.names.join(", "),
            reason: format!("CSR: {e}"),
        })?;
    retry_bad_nonce!(order.finalize_csr(csr.der()).await).map_err(acme_error("finalizing"))?;
    let chain = order
        .poll_certificate(&RetryPolicy::new().timeout(ORDER_TIMEOUT))
        .await
        .map_err(acme_error("downloading the certificate"))?;

    let blocks = pem_blocks(&chain);
    let Some((leaf, intermediates)) = blocks.split_first() else {
        return Err(CertError::parse(
            "certificate from ACME server",
            "no PEM block",
        ));
    };
    let root_pem = match &config.trust_root_file {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| CertError::io(path, e))?),
        None => None,
    };
    Ok(IssuedCert {
        cert_pem: leaf.clone(),
        chain_pem: intermediates.concat(),
        fullchain_pem: blocks.concat(),
        key_pem: key.serialize_pem(),
        root_pem,
    })
}

/// After an order went invalid: which name failed and what the CA said about it.
async fn failed_authorization(order: &mut instant_acme::Order, status: OrderStatus) -> CertError {
    let mut authorizations = order.authorizations();
    while let Some(Ok(mut authz)) = authorizations.next().await {
        let _ = authz.refresh().await;
        if authz.status == AuthorizationStatus::Invalid {
            let reason = authz
                .challenges
                .iter()
                .find_map(|c| c.error.as_ref().map(|e| e.to_string()))
                .unwrap_or_else(|| "authorization is invalid".into());
            return CertError::Authorization {
                name: authz.identifier().to_string(),
                reason,
            };
        }
    }
    CertError::Authorization {
        name: "(order)".into(),
        reason: format!("order ended {status:?}"),
    }
}

async fn clear_all(provider: &dyn DnsProvider, handles: &[RecordHandle]) {
    for handle in handles {
        if let Err(e) = provider.clear_txt(handle).await {
            tracing::warn!(record = %handle.fqdn, error = %e, "could not remove challenge record");
        }
    }
}

/// The account file for this directory URL, so staging and production accounts coexist.
fn account_file(config: &AcmeConfig) -> PathBuf {
    let digest = sha2::Sha256::digest(config.directory.as_bytes());
    config
        .account_dir
        .join(format!("account-{}.json", hex::encode(&digest[..6])))
}

async fn load_or_create_account(
    config: &AcmeConfig,
    force_new: bool,
) -> Result<Account, CertError> {
    let acme_error = |step| acme_error(config, step);
    let path = account_file(config);
    if !force_new {
        if let Ok(text) = std::fs::read_to_string(&path) {
            let credentials: AccountCredentials = serde_json::from_str(&text)
                .map_err(|e| CertError::parse(path.display().to_string(), e))?;
            return builder(config)?
                .from_credentials(credentials)
                .await
                .map_err(acme_error("loading the account"));
        }
    }

    let contact = config.email.as_ref().map(|e| format!("mailto:{e}"));
    let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
    let new_account = NewAccount {
        contact: &contacts,
        terms_of_service_agreed: true,
        only_return_existing: false,
    };
    let (account, credentials) = retry_bad_nonce!(
        builder(config)?
            .create(&new_account, config.directory.clone(), None)
            .await
    )
    .map_err(acme_error("creating the account"))?;

    ensure_private_dir(&config.account_dir)?;
    let json = serde_json::to_vec_pretty(&credentials)
        .map_err(|e| CertError::parse("account credentials", e))?;
    write_atomic(&path, &json, 0o600)?;
    tracing::debug!(file = %path.display(), "created ACME account");
    Ok(account)
}

/// An account builder trusting `root_ca_file` if given; `create` consumes it, so one per call.
fn builder(config: &AcmeConfig) -> Result<instant_acme::AccountBuilder, CertError> {
    match &config.root_ca_file {
        Some(root) => Account::builder_with_root(root),
        None => Account::builder(),
    }
    .map_err(|e| CertError::Acme {
        step: "setting up the HTTP client",
        directory: config.directory.clone(),
        reason: e.to_string(),
    })
}
