//! HTTP routes: one module per area, each handler a thin translation to a domain service call.

pub mod auth;
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
            .route("/scenes", web::get().to(tasks::scenes)),
    );
}
