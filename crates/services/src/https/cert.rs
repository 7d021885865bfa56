//! Certificates and keys: PEM files named in the config, or a throwaway
//! self-signed certificate made at start (demo, tests, first runs).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error(
        "https.cert = {path:?}: {problem} (give a PEM file with the certificate chain, leaf first)"
    )]
    Cert { path: PathBuf, problem: String },
    #[error("https.key = {path:?}: {problem} (give a PEM file with one PKCS#8, PKCS#1 or SEC1 private key)")]
    Key { path: PathBuf, problem: String },
    #[error("generating a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("https.write_generated_cert = {path:?}: {source} (check the directory exists and is writable)")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A certificate chain and its key, ready for rustls.
#[derive(Debug)]
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// The leaf in PEM when it was generated here (for `--cacert`).
    pub generated_pem: Option<String>,
}

/// Read a chain and a key from PEM files.
pub fn load_pem(cert: &Path, key: &Path) -> Result<Identity, CertError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| CertError::Cert {
            path: cert.to_path_buf(),
            problem: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(CertError::Cert {
            path: cert.to_path_buf(),
            problem: "no CERTIFICATE block".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| CertError::Key {
        path: key.to_path_buf(),
        problem: e.to_string(),
    })?;
    Ok(Identity {
        chain,
        key,
        generated_pem: None,
    })
}

/// A fresh ECDSA P-256 certificate for `addr` (IP SAN) and "localhost",
/// signed by its own key. Not for production: nothing vouches for it.
pub fn self_signed(addr: Ipv4Addr) -> Result<Identity, CertError> {
    let ck = rcgen::generate_simple_self_signed(vec![addr.to_string(), "localhost".to_string()])?;
    Ok(Identity {
        chain: vec![CertificateDer::from(ck.cert.der().to_vec())],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der())),
        generated_pem: Some(ck.cert.pem()),
    })
}

/// Write a generated certificate where a client can pick it up.
pub fn write_pem(path: &Path, pem: &str) -> Result<(), CertError> {
    std::fs::write(path, pem).map_err(|source| CertError::Write {
        path: path.to_path_buf(),
        source,
    })
}
