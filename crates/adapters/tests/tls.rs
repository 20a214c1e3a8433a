//! TLS to PostgreSQL as libpq's `sslmode` and `sslrootcert` promise, against a cluster of the
//! test's own with a CA made on the spot.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
use adapters::pg_connect::connect;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use testkit::tls::TlsCluster;

#[derive(diesel::QueryableByName)]
struct Ssl {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    ssl: bool,
}

async fn encrypted(c: &mut AsyncPgConnection) -> bool {
    let r: Ssl = diesel::sql_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .get_result(c)
        .await
        .unwrap();
    r.ssl
}

async fn refusal(url: &str) -> String {
    match connect(url).await {
        Ok(_) => panic!("{url} connected"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn require_refuses_a_server_without_tls_and_prefer_falls_back_to_plain() {
    let pg = TlsCluster::start().await.unwrap();
    let e = refusal(&pg.url("127.0.0.1", "postgres", "sslmode=require")).await;
    assert!(e.contains("server does not support TLS"), "{e}");

    let mut c = connect(&pg.url("127.0.0.1", "postgres", "")).await.unwrap();
    assert!(
        !encrypted(&mut c).await,
        "prefer, the default, takes what the server offers"
    );
}

#[tokio::test]
async fn verify_full_needs_the_right_ca_and_the_host_name_on_the_certificate() {
    let pg = TlsCluster::start().await.unwrap();
    pg.enable_tls().await.unwrap();
    let (ca, wrong) = (pg.ca.display(), pg.wrong_ca.display());

    let url = pg.url(
        "localhost",
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let mut c = connect(&url).await.unwrap();
    assert!(encrypted(&mut c).await);

    let e = refusal(&pg.url(
        "localhost",
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={wrong}"),
    ))
    .await;
    assert!(
        e.contains("invalid peer certificate") && e.contains("UnknownIssuer"),
        "{e}"
    );

    // the certificate names localhost, not the address
    let e = refusal(&pg.url(
        "127.0.0.1",
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .await;
    assert!(
        e.contains("not valid for name") && e.contains("127.0.0.1"),
        "{e}"
    );

    // verify-ca checks the signature, not the name
    let mut c = connect(&pg.url(
        "127.0.0.1",
        "postgres",
        &format!("sslmode=verify-ca&sslrootcert={ca}"),
    ))
    .await
    .unwrap();
    assert!(encrypted(&mut c).await);
    let e = refusal(&pg.url(
        "127.0.0.1",
        "postgres",
        &format!("sslmode=verify-ca&sslrootcert={wrong}"),
    ))
    .await;
    assert!(e.contains("UnknownIssuer"), "{e}");

    // require encrypts without checking, unless given a root (then it is verify-ca, as libpq)
    for params in ["sslmode=require", "sslmode=prefer", ""] {
        let mut c = connect(&pg.url("127.0.0.1", "postgres", params))
            .await
            .unwrap();
        assert!(encrypted(&mut c).await, "{params}");
    }
    let e = refusal(&pg.url(
        "localhost",
        "postgres",
        &format!("sslmode=require&sslrootcert={wrong}"),
    ))
    .await;
    assert!(e.contains("UnknownIssuer"), "{e}");

    let mut c = connect(&pg.url("localhost", "postgres", "sslmode=disable"))
        .await
        .unwrap();
    assert!(!encrypted(&mut c).await);
}
