//! Client authentication: the ssh-agent's keys first, then identity files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use russh::client::{AuthResult, Handle, Handler};
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg};

use super::ssh::SshTarget;
use super::TransportError;

/// The key files tried when neither the inventory nor ssh_config names one.
pub fn default_identity_files() -> Vec<PathBuf> {
    let Some(home) = dirs::home_dir() else {
        return Vec::new();
    };
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|name| home.join(".ssh").join(name))
        .filter(|path| path.exists())
        .collect()
}

/// Logs in as `target.user`, or says why no key was accepted.
pub async fn authenticate<H: Handler>(
    handle: &mut Handle<H>,
    target: &SshTarget,
) -> Result<(), TransportError> {
    let rsa_hash = rsa_hash(handle).await;
    // What went wrong on the way, for the error message if nothing works.
    let mut notes = Vec::new();

    if let Some(socket) = &target.agent_socket {
        if try_agent(handle, target, socket, rsa_hash, &mut notes).await? {
            return Ok(());
        }
    }

    let files = if target.identity_files.is_empty() {
        default_identity_files()
    } else {
        target.identity_files.clone()
    };
    for path in &files {
        let key = match load_key(path) {
            Ok(key) => key,
            Err(note) => {
                tracing::debug!("{note}");
                notes.push(note);
                continue;
            }
        };
        tracing::debug!(
            "trying {} key {} for {}",
            key.algorithm(),
            path.display(),
            target.host
        );
        let key = PrivateKeyWithHashAlg::new(Arc::new(key), rsa_hash);
        let result = handle
            .authenticate_publickey(&target.user, key)
            .await
            .map_err(|e| auth_error(target, format!("while offering {}: {e}", path.display())))?;
        if let AuthResult::Success = result {
            tracing::debug!("authenticated to {} with {}", target.host, path.display());
            return Ok(());
        }
        notes.push(format!("{} was refused", path.display()));
    }

    if files.is_empty() && target.agent_socket.is_none() {
        notes.push("no ssh-agent and no identity file".into());
    }
    Err(auth_error(target, notes.join("; ")))
}

/// The agent's keys, in its order. `Ok(true)` once one is accepted; a broken agent is
/// noted and skipped, not fatal.
async fn try_agent<H: Handler>(
    handle: &mut Handle<H>,
    target: &SshTarget,
    socket: &Path,
    rsa_hash: Option<HashAlg>,
    notes: &mut Vec<String>,
) -> Result<bool, TransportError> {
    let agent = AgentClient::connect_uds(socket).await;
    let identities = match agent {
        Ok(mut agent) => agent.request_identities().await.map(|ids| (agent, ids)),
        Err(e) => Err(e),
    };
    let (mut agent, identities) = match identities {
        Ok(found) => found,
        Err(e) => {
            notes.push(format!("ssh-agent at {} unusable: {e}", socket.display()));
            return Ok(false);
        }
    };

    for key in identities {
        let hash = if key.algorithm().is_rsa() {
            rsa_hash
        } else {
            None
        };
        let fingerprint = super::known_hosts::fingerprint(&key);
        tracing::debug!("trying agent key {fingerprint} for {}", target.host);
        match handle
            .authenticate_publickey_with(&target.user, key, hash, &mut agent)
            .await
        {
            Ok(AuthResult::Success) => {
                tracing::debug!(
                    "authenticated to {} with agent key {fingerprint}",
                    target.host
                );
                return Ok(true);
            }
            Ok(AuthResult::Failure { .. }) => {
                notes.push(format!("agent key {fingerprint} was refused"))
            }
            Err(e) => {
                notes.push(format!("agent failed to sign with {fingerprint}: {e}"));
                if handle.is_closed() {
                    return Err(auth_error(target, notes.join("; ")));
                }
            }
        }
    }
    Ok(false)
}

/// Which signature to make with an RSA key: the strongest `rsa-sha2-*` the server lists,
/// SHA-256 when it lists none (every OpenSSH since 7.2 accepts it).
async fn rsa_hash<H: Handler>(handle: &Handle<H>) -> Option<HashAlg> {
    match handle.best_supported_rsa_hash().await {
        Ok(Some(best)) => best,
        _ => Some(HashAlg::Sha256),
    }
}

fn load_key(path: &Path) -> Result<PrivateKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read identity file {}: {e}", path.display()))?;
    match russh::keys::decode_secret_key(&text, None) {
        Ok(key) => Ok(key),
        Err(russh::keys::Error::KeyIsEncrypted) => Err(encrypted(path)),
        Err(_) if text.contains("ENCRYPTED") => Err(encrypted(path)),
        Err(e) => Err(format!("cannot use identity file {}: {e}", path.display())),
    }
}

fn encrypted(path: &Path) -> String {
    format!(
        "identity file {} is protected by a passphrase, which dsprov does not prompt for; \
         load it into ssh-agent with ssh-add",
        path.display()
    )
}

fn auth_error(target: &SshTarget, reason: String) -> TransportError {
    TransportError::Auth {
        host: target.host.clone(),
        user: target.user.clone(),
        reason,
    }
}
