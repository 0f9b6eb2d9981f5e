//! TLS for `https://` endpoints: the roots trusted (the system's, the
//! webpki roots, and the CA of `OTEL_EXPORTER_OTLP_CERTIFICATE`) and the
//! client's own certificate for mutual TLS. A file that is missing or
//! unreadable is reported once on stderr, naming the variable and the path;
//! the exporter then runs without it.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, TrustAnchor};

use super::{FileFrom, TlsFiles};
use crate::say_once::say_once;

/// What TLS connections use, read once from the files.
pub(crate) struct Trust {
    pub roots: Arc<RootCertStore>,
    /// The client's certificate chain and key (PEM), for mutual TLS.
    pub identity: Option<Identity>,
}

#[cfg_attr(not(feature = "otlp-http"), allow(dead_code))]
pub(crate) struct Identity {
    pub certificates: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// The PEM texts, for transports that take those.
    #[cfg_attr(not(feature = "otlp-grpc"), allow(dead_code))]
    pub certificate_pem: Vec<u8>,
    #[cfg_attr(not(feature = "otlp-grpc"), allow(dead_code))]
    pub key_pem: Vec<u8>,
}

impl Trust {
    pub(crate) fn load(files: &TlsFiles) -> Self {
        let mut roots = RootCertStore::empty();
        // Hosts without a certificate store (minimal containers) have the
        // webpki roots still.
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(ca) = &files.ca {
            match read(ca).and_then(|pem| certificates(ca, &pem)) {
                Ok(certificates) => {
                    let (added, ignored) = roots.add_parsable_certificates(certificates);
                    if added == 0 || ignored > 0 {
                        report(
                            ca,
                            &format!("{added} certificates trusted, {ignored} unusable"),
                        );
                    }
                }
                Err(why) => report(ca, &why),
            }
        }
        Self {
            roots: Arc::new(roots),
            identity: identity(files),
        }
    }

    /// Trusts nothing: for clients that never open a TLS connection (plain
    /// `http://` endpoints) but must still be given a TLS configuration.
    #[cfg_attr(not(feature = "otlp-http"), allow(dead_code))]
    pub(crate) fn none() -> Self {
        Self {
            roots: Arc::new(RootCertStore::empty()),
            identity: None,
        }
    }

    /// The trusted roots, as transports that take trust anchors want them.
    #[cfg_attr(not(feature = "otlp-grpc"), allow(dead_code))]
    pub(crate) fn anchors(&self) -> Vec<TrustAnchor<'static>> {
        self.roots.roots.clone()
    }

    /// A rustls client configuration (crypto from `ring`).
    #[cfg_attr(not(feature = "otlp-http"), allow(dead_code))]
    pub(crate) fn client_config(&self, alpn: &[&[u8]]) -> Result<rustls::ClientConfig, String> {
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_root_certificates(self.roots.clone());
        let mut config = match &self.identity {
            Some(identity) => builder
                .with_client_auth_cert(identity.certificates.clone(), identity.key.clone_key())
                .map_err(|e| format!("the client certificate and key do not go together: {e}"))?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }
}

/// The client certificate and key, when both are given and readable.
fn identity(files: &TlsFiles) -> Option<Identity> {
    let (certificate, key) = match (&files.client_certificate, &files.client_key) {
        (None, None) => return None,
        (Some(only), None) | (None, Some(only)) => {
            report(
                only,
                "mutual TLS needs both the client certificate and its key",
            );
            return None;
        }
        (Some(certificate), Some(key)) => (certificate, key),
    };
    let certificate_pem = read(certificate)
        .map_err(|why| report(certificate, &why))
        .ok()?;
    let key_pem = read(key).map_err(|why| report(key, &why)).ok()?;
    let certificates = certificates(certificate, &certificate_pem)
        .map_err(|why| report(certificate, &why))
        .ok()?;
    let parsed = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| report(key, &format!("no private key in it ({e})")))
        .ok()?;
    Some(Identity {
        certificates,
        key: parsed,
        certificate_pem,
        key_pem,
    })
}

fn read(file: &FileFrom) -> Result<Vec<u8>, String> {
    std::fs::read(&file.path).map_err(|e| format!("cannot read it ({e})"))
}

fn certificates(file: &FileFrom, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("not PEM certificates ({e})"))?;
    if certificates.is_empty() {
        return Err(format!("no PEM certificate in {}", file.path.display()));
    }
    Ok(certificates)
}

/// One stderr line for a TLS file that cannot be used, once per process
/// however many signals (traces, logs, metrics) or installations read it.
fn report(file: &FileFrom, why: &str) {
    let subject = format!("{}={}", file.variable, file.path.display());
    say_once(&subject, || {
        format!("xray: {subject}: {why}; going on without it")
    });
}
