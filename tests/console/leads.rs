//! Leads from a CSV file uploaded in the browser.

use fantoccini::Locator;
use kernel::Role;

use crate::harness::{Browser, Setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_file_uploaded_in_the_browser_is_imported_into_the_chosen_organisation_with_its_report()
 {
    let s = Setup::new().await;
    let (org, admin) = s.app.tenant("dealer").await;
    let east = s.app.org("dealer-east", Some(org)).await;
    s.app.user(org, "op", Role::Operator).await;
    let csv = "customer_name,phone,level,source\n\
               张三,13800000001,H,汽车之家\n\
               李四,not-a-phone,A,懂车帝\n\
               王五,13800000003,B,懂车帝\n";
    let path = std::env::temp_dir().join(format!("leads-{}.csv", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, csv).unwrap();

    let b = Browser::start(&s.served.base).await;
    b.open("/login").await;
    b.log_in("op", "password123").await;
    b.open("/leads").await;
    b.click(&format!("#import-org option[value='{east}']"))
        .await;
    b.wait_for("#import-file")
        .await
        .send_keys(&path.display().to_string())
        .await
        .unwrap();
    b.click("#import-form button[type=submit]").await;
    b.wait_text(30, "#import-inserted", |t| t == "2").await;
    assert_eq!(b.text("#import-rejected").await, "1");
    // the bad row is reported with its line in the file (the header is line 1)
    let report = b.text("#import-report table").await;
    assert!(report.contains('3'), "{report}");

    // the leads are the chosen organisation's
    let leads = s
        .app
        .get(Some(&admin), &format!("/api/leads?org_ids={east}"))
        .await
        .expect(200, None);
    assert_eq!(leads.data()["pagination"]["total"], 2, "{}", leads.body);
    // a file that is not one: the report says why, nothing is imported
    let bad = std::env::temp_dir().join(format!("bad-{}.csv", uuid::Uuid::new_v4().simple()));
    std::fs::write(&bad, "name;telephone\nx;y\n").unwrap();
    b.client
        .find(Locator::Css("#import-file"))
        .await
        .unwrap()
        .send_keys(&bad.display().to_string())
        .await
        .unwrap();
    b.click("#import-form button[type=submit]").await;
    b.wait_text(30, "#import-report", |t| t.contains("可用的列"))
        .await;
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&bad);
    b.close().await;
}
