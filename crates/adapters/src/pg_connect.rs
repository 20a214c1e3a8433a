//! Opening a PostgreSQL connection the way libpq does: the URL's `sslmode` and `sslrootcert`
//! choose whether TLS is used and what is verified, with rustls (no OpenSSL).
//!
//! | `sslmode`     | TLS                         | certificate checked                      |
//! |---------------|-----------------------------|------------------------------------------|
//! | `disable`     | never                       | –                                        |
//! | `prefer` (default) | when the server offers it | no                                  |
//! | `require`     | always                      | only if `sslrootcert` is given (as `verify-ca`) |
//! | `verify-ca`   | always                      | signed by `sslrootcert`                  |
//! | `verify-full` | always                      | signed by `sslrootcert`, and for the URL's host |
//!
//! `sslrootcert` is a PEM file of trusted certificates, or `system` for the Mozilla roots built
//! into the binary; without it, `verify-ca`/`verify-full` read `~/.postgresql/root.crt` as libpq
//! does.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use diesel::ConnectionResult;
use diesel::result::ConnectionError;
use diesel_async::AsyncPgConnection;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS if the server offers it, certificate not checked.
    Prefer,
    /// TLS always; the certificate is checked only against an explicit `sslrootcert`.
    Require,
    /// TLS always, certificate signed by a trusted root.
    VerifyCa,
    /// TLS always, certificate signed by a trusted root and issued for the host connected to.
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<SslMode, String> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            // libpq's `allow` tries without TLS first; nothing here needs it
            other => {
                return Err(format!(
                    "sslmode={other} is not supported (disable, prefer, require, verify-ca, \
                     verify-full)"
                ));
            }
        })
    }
}

/// A database URL split into what tokio-postgres understands and the TLS choices it does not.
#[derive(Debug, Clone)]
pub struct Target {
    config: tokio_postgres::Config,
    mode: SslMode,
    root_cert: Option<String>,
}

impl Target {
    /// Parse a `postgres://` URL with optional `sslmode` and `sslrootcert` query parameters.
    pub fn parse(url: &str) -> Result<Target, String> {
        let mut parsed =
            url::Url::parse(url).map_err(|e| format!("the database URL is not a URL: {e}"))?;
        let mut mode = SslMode::Prefer;
        let mut root_cert = None;
        let mut rest = Vec::new();
        for (k, v) in parsed.query_pairs() {
            match &*k {
                "sslmode" => mode = SslMode::parse(&v)?,
                "sslrootcert" => root_cert = Some(v.into_owned()),
                _ => rest.push((k.into_owned(), v.into_owned())),
            }
        }
        parsed.set_query(None);
        if !rest.is_empty() {
            parsed.query_pairs_mut().extend_pairs(rest);
        }
        let mut config: tokio_postgres::Config = parsed
            .as_str()
            .parse()
            .map_err(|e| format!("the database URL is not valid: {e}"))?;
        config.ssl_mode(match mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        Ok(Target {
            config,
            mode,
            root_cert,
        })
    }

    /// Open a connection.
    pub async fn connect(&self) -> ConnectionResult<AsyncPgConnection> {
        if self.mode == SslMode::Disable {
            let (client, conn) = self
                .config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(failed)?;
            return AsyncPgConnection::try_from_client_and_connection(client, conn).await;
        }
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(self.client_config()?);
        let (client, conn) = self.config.connect(tls).await.map_err(failed)?;
        AsyncPgConnection::try_from_client_and_connection(client, conn).await
    }

    fn client_config(&self) -> ConnectionResult<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(format!("TLS set-up failed: {e}")))?;
        let verifier: Arc<dyn ServerCertVerifier> = match (self.mode, &self.root_cert) {
            // `disable` never gets here: it connects without TLS
            (SslMode::Disable | SslMode::Prefer, _) | (SslMode::Require, None) => {
                Arc::new(Unverified {
                    algorithms: provider.signature_verification_algorithms,
                })
            }
            (SslMode::Require | SslMode::VerifyCa, root) => {
                Arc::new(ChainOnly(webpki_verifier(root.as_deref(), &provider)?))
            }
            (SslMode::VerifyFull, root) => webpki_verifier(root.as_deref(), &provider)?,
        };
        Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth())
    }
}

/// Connect to `url` (see the module's table for `sslmode`).
pub async fn connect(url: &str) -> ConnectionResult<AsyncPgConnection> {
    Target::parse(url).map_err(bad)?.connect().await
}

fn bad(e: impl std::fmt::Display) -> ConnectionError {
    ConnectionError::BadConnection(e.to_string())
}

/// tokio-postgres says what failed ("error performing TLS handshake") and keeps why in its
/// sources ("invalid peer certificate: UnknownIssuer"): an operator needs both.
fn failed(e: tokio_postgres::Error) -> ConnectionError {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    bad(text)
}

fn webpki_verifier(
    root_cert: Option<&str>,
    provider: &Arc<CryptoProvider>,
) -> ConnectionResult<Arc<WebPkiServerVerifier>> {
    let mut roots = RootCertStore::empty();
    if root_cert == Some("system") {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    } else {
        let path = match root_cert {
            Some(p) => PathBuf::from(p),
            None => default_root_cert(),
        };
        for cert in read_pem(&path)? {
            roots
                .add(cert)
                .map_err(|e| bad(format!("sslrootcert {}: {e}", path.display())))?;
        }
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| bad(format!("TLS set-up failed: {e}")))
}

fn default_root_cert() -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home).join(".postgresql").join("root.crt")
}

fn read_pem(path: &Path) -> ConnectionResult<Vec<CertificateDer<'static>>> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            bad(format!(
                "root certificate file {} cannot be read ({e}); give one with sslrootcert=, use \
                 the built-in roots with sslrootcert=system, or choose an sslmode that does not \
                 verify the server",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(bad(format!(
            "root certificate file {} holds no certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// `prefer`, and `require` without a root: encryption without authentication, as libpq. The
/// handshake's signatures are still checked, so the peer holds the key of the certificate it
/// sent.
#[derive(Debug)]
struct Unverified {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must end at a trusted root; the name on the certificate is not
/// compared with the host (webpki checks the chain first, so a name error means the chain held).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_prefer_as_in_libpq() {
        let t = Target::parse("postgres://u:p@localhost:5432/db").unwrap();
        assert_eq!(t.mode, SslMode::Prefer);
    }

    #[test]
    fn sslmode_and_sslrootcert_are_taken_out_and_other_parameters_kept() {
        let t = Target::parse(
            "postgres://u:p@db.example:6432/app?sslmode=verify-full&sslrootcert=/ca.pem&connect_timeout=7",
        )
        .unwrap();
        assert_eq!(t.mode, SslMode::VerifyFull);
        assert_eq!(t.root_cert.as_deref(), Some("/ca.pem"));
        assert_eq!(
            t.config.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(7))
        );
        assert_eq!(t.config.get_dbname(), Some("app"));
    }

    #[test]
    fn an_unknown_sslmode_is_refused_by_name() {
        let e = Target::parse("postgres://localhost/db?sslmode=allow").unwrap_err();
        assert!(e.contains("sslmode=allow"), "{e}");
    }

    #[test]
    fn verification_without_a_readable_root_file_says_how_to_fix_it() {
        let t =
            Target::parse("postgres://localhost/db?sslmode=verify-full&sslrootcert=/nonexistent")
                .unwrap();
        let e = t.client_config().unwrap_err().to_string();
        assert!(
            e.contains("/nonexistent") && e.contains("sslrootcert=system"),
            "{e}"
        );
    }
}
