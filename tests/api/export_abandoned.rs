//! The real binary: a client that goes away in the middle of a download stops the export; the
//! server reads no page after it (the binary's log says how many rows went out).
use std::process::Stdio;
use std::time::Duration;

use e2e::{Api, ChildGuard, TestApp, TestOptions, eventually, free_port};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const LEADS: usize = 20_000;

/// A client with a small receive buffer (the server cannot run far ahead of what it reads).
async fn connect(port: u16) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket
        .connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap()
}

fn request(task: i64, format: &str, token: &str) -> String {
    format!(
        "GET /api/export-task-results?task_id={task}&format={format} HTTP/1.1\r\n\
         Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
}

/// The rows of every log line `what` about `task` (`rows=N`).
fn logged_rows(log: &str, what: &str, task: i64) -> Vec<usize> {
    log.lines()
        .filter(|l| l.contains(what) && l.contains(&format!("task_id={task} ")))
        .filter_map(|l| {
            let rest = l.split("rows=").nth(1)?;
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_mid_download_stops_the_export() {
    let setup = TestApp::spawn_with(TestOptions {
        workers: false,
        ..TestOptions::default()
    })
    .await;
    let (_, admin) = setup.tenant("车行").await;
    let task = setup.task_with_leads(&admin, LEADS, "s").await;

    let log_path = std::env::temp_dir().join(format!(
        "outbound-export-test-{}.log",
        uuid::Uuid::new_v4().simple()
    ));
    let log = std::fs::File::create(&log_path).unwrap();
    let port = free_port();
    let child = e2e::serve_command(&setup.db.url, port)
        .env("WORKER_ID", "export-test")
        .env("RUST_LOG", "info")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start outbound");
    let mut child = ChildGuard(child);
    let api = Api::new(format!("http://127.0.0.1:{port}"), Duration::from_secs(30));
    api.wait_healthy().await;
    let read_log = || std::fs::read_to_string(&log_path).unwrap();

    // CSV: the answer starts, the client reads a little of it and closes
    let mut csv = connect(port).await;
    csv.write_all(request(task, "csv", &admin).as_bytes())
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&got).contains("\r\n\r\n") || got.len() < 4096 {
        let n = csv.read(&mut buf).await.unwrap();
        assert!(n > 0, "the answer ended early");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got[..200])
    );
    drop(csv);
    let rows = eventually(30, "the CSV export is logged abandoned", || async {
        logged_rows(&read_log(), "export abandoned by the client", task)
            .first()
            .copied()
    })
    .await;
    assert!(rows < LEADS, "{rows} rows read for a client that left");

    // XLSX: nothing is sent before the workbook is complete; the client leaves at once
    let mut xlsx = connect(port).await;
    xlsx.write_all(request(task, "xlsx", &admin).as_bytes())
        .await
        .unwrap();
    drop(xlsx);
    let rows = eventually(30, "the XLSX export is logged abandoned", || async {
        let rows = logged_rows(&read_log(), "export abandoned by the client", task);
        (rows.len() == 2).then(|| rows[1])
    })
    .await;
    assert!(rows < LEADS, "{rows} rows written for a client that left");

    // a client that stays gets every row, and the log says so
    let r = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{port}/api/export-task-results?task_id={task}"
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let body = r.bytes().await.unwrap();
    assert_eq!(
        csv::Reader::from_reader(&body[3..]).records().count(),
        LEADS
    );
    let finished = eventually(30, "the whole export is logged finished", || async {
        logged_rows(&read_log(), "export finished", task)
            .first()
            .copied()
    })
    .await;
    assert_eq!(finished, LEADS);
    let log = read_log();
    assert_eq!(
        logged_rows(&log, "export finished", task).len(),
        1,
        "only the whole download finished:\n{log}"
    );

    e2e::sigterm_and_wait(&mut child.0, 15).await;
    let _ = std::fs::remove_file(&log_path);
}
