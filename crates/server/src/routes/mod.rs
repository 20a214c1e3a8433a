//! HTTP routes: one module per area, each handler a thin translation to a domain service call.

pub mod auth;
pub mod exec;
pub mod leads;
pub mod tasks;

use actix_web::web;

/// Mount every route under `/api`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api")
            .route("/health", web::get().to(auth::health))
            .route("/login", web::post().to(auth::login))
            .route("/auth/verify", web::get().to(auth::verify))
            .route("/organizations", web::get().to(auth::organizations))
            .route("/leads/import", web::post().to(leads::import))
            .route("/leads", web::get().to(leads::list))
            .route("/leads/statistics", web::get().to(leads::statistics))
            .route("/leads/preview", web::post().to(leads::preview))
            .route("/create-autoCall-tasks", web::post().to(tasks::create))
            .route("/task_list", web::get().to(tasks::task_list))
            .route("/tasks", web::get().to(tasks::recent))
            .route("/task-stats", web::get().to(tasks::stats))
            .route("/update-script-id", web::post().to(tasks::update_script))
            .route("/create_scene", web::post().to(tasks::create_scene))
            .route("/scenes", web::get().to(tasks::scenes))
            .route("/start-call-task", web::post().to(exec::start))
            .route("/suspend-resume-task", web::post().to(exec::suspend_resume))
            .route("/stop-call-task", web::post().to(exec::stop))
            .route("/query-task-execution", web::post().to(exec::executions))
            .route("/get-leads-follow", web::get().to(exec::follow))
            .route("/task-statistics", web::get().to(exec::statistics))
            .route("/start-query-execution-run", web::post().to(exec::start_run))
            .route("/get-query-execution-run", web::get().to(exec::get_run))
            .route("/auto-task", web::post().to(exec::auto_task))
            .route("/config-check", web::get().to(exec::config_check)),
    );
}
