//! Generating the leaf's private key for a `KeyType`.

use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256};
use rsa::pkcs8::EncodePrivateKey;
use rustls_pki_types::PrivatePkcs8KeyDer;

use crate::cert::{CertError, KeyType};

/// A fresh key pair. ring cannot generate RSA keys, so those come from the `rsa` crate
/// and are handed to rcgen (which signs with ring) as PKCS#8.
pub(crate) fn generate(key_type: KeyType) -> Result<KeyPair, CertError> {
    let fail = |reason: String| CertError::KeyGeneration {
        key_type: key_type.to_string(),
        reason,
    };
    let bits = match key_type {
        KeyType::EcdsaP256 => {
            return KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| fail(e.to_string()))
        }
        KeyType::Rsa2048 => 2048,
        KeyType::Rsa4096 => 4096,
    };

    let private =
        rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits).map_err(|e| fail(e.to_string()))?;
    let der = private.to_pkcs8_der().map_err(|e| fail(e.to_string()))?;
    let der = PrivatePkcs8KeyDer::from(der.as_bytes().to_vec());
    KeyPair::from_pkcs8_der_and_sign_algo(&der, &PKCS_RSA_SHA256).map_err(|e| fail(e.to_string()))
}
