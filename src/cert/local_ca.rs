//! dsprov's own private CA, kept on the controller beside the inventory.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SerialNumber, PKCS_ECDSA_P256_SHA256,
};
use time::{Duration, OffsetDateTime};

use crate::cert::bundle::IssuedCert;
use crate::cert::private_file::{ensure_private_dir, write_atomic};
use crate::cert::{key, CertError, KeyType};

const CA_KEY_FILE: &str = "ca.key";
const CA_CERT_FILE: &str = "ca.pem";
/// The CA outlives every playbook: twenty years.
const CA_VALIDITY_DAYS: i64 = 20 * 365;
/// Leaves are renewed by dsprov, so a year is plenty (and within browser limits).
const LEAF_VALIDITY_DAYS: i64 = 365;

/// An ECDSA P-256 CA whose key lives in `<dir>/ca.key` (0600) and certificate in `<dir>/ca.pem`.
pub struct LocalCa {
    dir: PathBuf,
    cert_pem: String,
    key: KeyPair,
}

impl LocalCa {
    /// The CA certificate in `dir`, if one was created already; never creates anything.
    pub fn existing_cert(dir: &Path) -> Result<Option<String>, CertError> {
        let path = dir.join(CA_CERT_FILE);
        match fs::read_to_string(&path) {
            Ok(pem) => Ok(Some(pem)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CertError::io(path, e)),
        }
    }

    /// Loads the CA from `dir`, creating it on first use.
    pub fn open_or_create(dir: &Path) -> Result<Self, CertError> {
        let key_path = dir.join(CA_KEY_FILE);
        let cert_path = dir.join(CA_CERT_FILE);
        let ca_error = |reason: String| CertError::LocalCa {
            dir: dir.to_path_buf(),
            reason,
        };

        match (key_path.exists(), cert_path.exists()) {
            (true, true) => {
                let key_pem =
                    fs::read_to_string(&key_path).map_err(|e| CertError::io(&key_path, e))?;
                let cert_pem =
                    fs::read_to_string(&cert_path).map_err(|e| CertError::io(&cert_path, e))?;
                let key = KeyPair::from_pem(&key_pem)
                    .map_err(|e| ca_error(format!("{CA_KEY_FILE}: {e}")))?;
                // Fail now rather than sign leaves nobody can verify.
                Issuer::from_ca_cert_pem(&cert_pem, &key)
                    .map_err(|e| ca_error(format!("{CA_CERT_FILE}: {e}")))?;
                tracing::debug!(dir = %dir.display(), "loaded local CA");
                Ok(LocalCa {
                    dir: dir.to_path_buf(),
                    cert_pem,
                    key,
                })
            }
            (false, false) => Self::create(dir),
            (true, false) => Err(ca_error(format!(
                "{CA_KEY_FILE} exists but {CA_CERT_FILE} is missing"
            ))),
            (false, true) => Err(ca_error(format!(
                "{CA_CERT_FILE} exists but {CA_KEY_FILE} is missing"
            ))),
        }
    }

    fn create(dir: &Path) -> Result<Self, CertError> {
        let ca_error = |reason: String| CertError::LocalCa {
            dir: dir.to_path_buf(),
            reason,
        };
        ensure_private_dir(dir)?;

        let key =
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| ca_error(e.to_string()))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            format!("dsprov local CA {}", short_id(&key)),
        );
        dn.push(DnType::OrganizationName, "dsprov");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(CA_VALIDITY_DAYS);
        params.serial_number = Some(random_serial());

        let cert = params
            .self_signed(&key)
            .map_err(|e| ca_error(e.to_string()))?;

        // Key first: a cert without its key is unusable, a key without its cert is just retried.
        write_atomic(
            &dir.join(CA_KEY_FILE),
            key.serialize_pem().as_bytes(),
            0o600,
        )?;
        write_atomic(&dir.join(CA_CERT_FILE), cert.pem().as_bytes(), 0o644)?;
        tracing::debug!(dir = %dir.display(), "created local CA");

        Ok(LocalCa {
            dir: dir.to_path_buf(),
            cert_pem: cert.pem(),
            key,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA certificate, which hosts install into their trust store.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Issues a server-and-client certificate for `names` with a new key of `key_type`.
    pub fn issue(&self, names: &[String], key_type: KeyType) -> Result<IssuedCert, CertError> {
        let sign_error = |reason: String| CertError::Signing {
            names: names.join(", "),
            reason,
        };
        let leaf_key = key::generate(key_type)?;

        let mut params =
            CertificateParams::new(names.to_vec()).map_err(|e| sign_error(e.to_string()))?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, names[0].clone());
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = match key_type {
            KeyType::EcdsaP256 => vec![KeyUsagePurpose::DigitalSignature],
            _ => vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ],
        };
        // Client auth too: peers of a cluster present this certificate to each other.
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(LEAF_VALIDITY_DAYS);
        params.serial_number = Some(random_serial());

        let issuer = Issuer::from_ca_cert_pem(&self.cert_pem, &self.key)
            .map_err(|e| sign_error(e.to_string()))?;
        let cert = params
            .signed_by(&leaf_key, &issuer)
            .map_err(|e| sign_error(e.to_string()))?;

        Ok(IssuedCert {
            cert_pem: cert.pem(),
            chain_pem: String::new(),
            fullchain_pem: cert.pem(),
            key_pem: leaf_key.serialize_pem(),
            root_pem: Some(self.cert_pem.clone()),
        })
    }
}

fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f; // positive
    SerialNumber::from_slice(&bytes)
}

/// A few hex digits of the CA key, so two inventories' CAs have different names.
fn short_id(key: &KeyPair) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(key.public_key_raw())[..4])
}
