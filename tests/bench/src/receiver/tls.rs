//! TLS for the receivers (feature `secure`): a CA and a server certificate
//! for `127.0.0.1` and `localhost` generated for the run with rcgen;
//! rustls with the ring provider.

use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::TlsFiles;

/// Generates the CA and the receivers' certificate, and writes the CA to
/// `dir/ca.pem`.
pub fn generate(dir: &Path) -> Result<TlsFiles, String> {
    let err = |e: rcgen::Error| format!("cannot generate the test certificates: {e}");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "xray-bench test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(err)?).map_err(err)?;

    let key = KeyPair::generate().map_err(err)?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .map_err(err)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &ca).map_err(err)?;

    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let ca_pem = dir.join("ca.pem");
    std::fs::write(&ca_pem, ca.pem()).map_err(|e| format!("{}: {e}", ca_pem.display()))?;
    Ok(TlsFiles {
        ca_pem,
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// The ring provider as the process default, for code that builds rustls
/// configurations without naming one (reqwest built with
/// `rustls-no-provider`). Idempotent.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The OTLP/HTTP receiver's acceptor (HTTP/1.1 over ALPN).
pub(crate) fn http_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, String> {
    let certs = vec![
        CertificateDer::from_pem_slice(files.cert_pem.as_bytes())
            .map_err(|e| format!("the generated certificate: {e}"))?,
    ];
    let key = PrivateKeyDer::from_pem_slice(files.key_pem.as_bytes())
        .map_err(|e| format!("the generated key: {e}"))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| format!("TLS server configuration: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The OTLP/gRPC receiver's TLS settings.
pub(crate) fn grpc_config(files: &TlsFiles) -> tonic::transport::ServerTlsConfig {
    tonic::transport::ServerTlsConfig::new().identity(tonic::transport::Identity::from_pem(
        &files.cert_pem,
        &files.key_pem,
    ))
}
