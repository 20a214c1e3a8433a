//! The real binary on a PostgreSQL that demands TLS: `DATABASE_URL`'s `sslmode` and
//! `sslrootcert` are honoured by the service's pool and migrations, and a server whose
//! certificate the CA did not sign is refused at start with the reason.
use std::time::Duration;

use diesel_async::RunQueryDsl;
use e2e::{Api, ChildGuard, free_port, outbound_cli, serve_command};
use testkit::tls::TlsCluster;

#[derive(diesel::QueryableByName)]
struct Sessions {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    plain: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    encrypted: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_runs_on_a_database_reached_with_verify_full() {
    let pg = TlsCluster::start().await.unwrap();
    pg.enable_tls().await.unwrap();
    let ca = pg.ca.display().to_string();
    let url = pg.url(
        "localhost",
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );

    let port = free_port();
    let _serve = ChildGuard(serve_command(&url, port).spawn().unwrap());
    let api = Api::new(format!("http://127.0.0.1:{port}"), Duration::from_secs(10));
    api.wait_healthy().await;
    api.get(None, "/api/health/ready").await.expect(200, None);

    // every session the service holds is encrypted
    let mut admin =
        adapters::pg_connect::connect(&pg.url("localhost", "postgres", "sslmode=disable"))
            .await
            .unwrap();
    let s: Sessions = diesel::sql_query(
        "SELECT count(*) FILTER (WHERE NOT s.ssl) AS plain, count(*) FILTER (WHERE s.ssl) AS encrypted \
         FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
         WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()",
    )
    .get_result(&mut admin)
    .await
    .unwrap();
    assert!(
        s.encrypted >= 1 && s.plain == 0,
        "{} plain, {} encrypted",
        s.plain,
        s.encrypted
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_certificate_from_another_ca_or_for_another_host_is_refused_by_name() {
    let pg = TlsCluster::start().await.unwrap();
    pg.enable_tls().await.unwrap();
    let (ca, wrong) = (
        pg.ca.display().to_string(),
        pg.wrong_ca.display().to_string(),
    );

    let url = pg.url(
        "localhost",
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={wrong}"),
    );
    let (ok, _, err) = outbound_cli(&url, &["migrate"], None);
    assert!(!ok);
    assert!(err.contains("cannot connect to the database: error performing TLS handshake: invalid peer certificate: UnknownIssuer"), "{err}");

    let url = pg.url(
        "127.0.0.1",
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let (ok, _, err) = outbound_cli(&url, &["migrate"], None);
    assert!(!ok);
    assert!(err.contains("not valid for name \"127.0.0.1\""), "{err}");

    let url = pg.url(
        "localhost",
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let (ok, _, err) = outbound_cli(&url, &["migrate"], None);
    assert!(ok, "{err}");
}
