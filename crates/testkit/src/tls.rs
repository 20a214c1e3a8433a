//! A PostgreSQL cluster of its own for the TLS tests, with certificates made on the spot: a CA,
//! a server certificate it signs for `localhost` only, and a second CA that signed nothing.

use std::path::{Path, PathBuf};

use adapters::embedded::EmbeddedPostgres;
use anyhow::Context;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// A running cluster that serves TLS once [`TlsCluster::enable_tls`] is called. Stopped and
/// removed when dropped.
pub struct TlsCluster {
    pg: EmbeddedPostgres,
    dir: PathBuf,
    /// The CA that signed the server's certificate (PEM file).
    pub ca: PathBuf,
    /// A CA that signed nothing the server has (PEM file).
    pub wrong_ca: PathBuf,
}

impl TlsCluster {
    /// A new cluster without TLS, and the certificates written beside it.
    pub async fn start() -> anyhow::Result<TlsCluster> {
        let dir = std::env::temp_dir().join(format!("outbound-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let data = dir.join("data");
        let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&data)).await??;
        let cluster = TlsCluster {
            ca: dir.join("ca.pem"),
            wrong_ca: dir.join("wrong-ca.pem"),
            pg,
            dir,
        };
        cluster.write_certificates()?;
        Ok(cluster)
    }

    fn write_certificates(&self) -> anyhow::Result<()> {
        let ca = certificate_authority("outbound test CA")?;
        let wrong = certificate_authority("someone else's CA")?;
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec!["localhost".to_owned()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let cert = params.signed_by(&key, &ca)?;
        std::fs::write(&self.ca, ca.pem())?;
        std::fs::write(&self.wrong_ca, wrong.pem())?;
        // the server reads its own files: owned by the cluster's user, the key private to it
        let data = self.pg.data_dir();
        write_owned_like(data, "server.crt", &cert.pem(), 0o644)?;
        write_owned_like(data, "server.key", &key.serialize_pem(), 0o600)?;
        Ok(())
    }

    /// Turn `ssl = on` with the server certificate, and wait until new sessions get it.
    pub async fn enable_tls(&self) -> anyhow::Result<()> {
        let mut c = AsyncPgConnection::establish(&self.pg.url("postgres")).await?;
        for s in [
            "ALTER SYSTEM SET ssl_cert_file = 'server.crt'",
            "ALTER SYSTEM SET ssl_key_file = 'server.key'",
            "ALTER SYSTEM SET ssl = on",
            "SELECT pg_reload_conf()",
        ] {
            diesel::sql_query(s).execute(&mut c).await?;
        }
        for _ in 0..100 {
            let mut fresh = AsyncPgConnection::establish(&self.pg.url("postgres")).await?;
            #[derive(diesel::QueryableByName)]
            struct Setting {
                #[diesel(sql_type = diesel::sql_types::Text)]
                ssl: String,
            }
            let s: Setting = diesel::sql_query("SHOW ssl").get_result(&mut fresh).await?;
            if s.ssl == "on" {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        anyhow::bail!(
            "the cluster did not turn ssl on; see its log in {}",
            self.dir.display()
        )
    }

    /// The URL of database `db` on host `host` (`localhost` or `127.0.0.1`) with `params`
    /// appended as the query (e.g. `sslmode=verify-full&sslrootcert=…`).
    pub fn url(&self, host: &str, db: &str, params: &str) -> String {
        let url = self.pg.url(db).replacen("127.0.0.1", host, 1);
        if params.is_empty() {
            url
        } else {
            format!("{url}?{params}")
        }
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let _ = self.pg.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn certificate_authority(name: &str) -> anyhow::Result<CertifiedIssuer<'static, KeyPair>> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(CertifiedIssuer::self_signed(params, KeyPair::generate()?)?)
}

fn write_owned_like(dir: &Path, name: &str, text: &str, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let path = dir.join(name);
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
    let owner = std::fs::metadata(dir)?;
    std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid()))?;
    Ok(())
}
