//! Start, suspend, resume, stop.

use super::*;

#[tokio::test]
async fn start_refuses_wrong_state_and_missing_script_without_touching_anything() {
    let mut m = Mocks::new();
    m.tasks
        .expect_get()
        .returning(|_, _| Ok(Some(task(TaskState::Running, "s", Some("g")))));
    assert!(matches!(
        m.build().lifecycle.start(&caller(), TaskId(7)).await,
        Err(ExecError::NotStartable(TaskState::Running))
    ));

    let mut m = Mocks::new();
    m.tasks
        .expect_get()
        .returning(|_, _| Ok(Some(task(TaskState::Created, " ", None))));
    assert!(matches!(
        m.build().lifecycle.start(&caller(), TaskId(7)).await,
        Err(ExecError::ScriptNotSet)
    ));
}

#[tokio::test]
async fn start_records_the_group_and_wakes_the_dispatcher() {
    let mut m = Mocks::new();
    m.tasks
        .expect_get()
        .returning(|_, _| Ok(Some(task(TaskState::Created, "s", None))));
    m.lifecycle
        .expect_transition()
        .returning(|_, _, _, _, _| Ok(task(TaskState::Running, "s", None)));
    m.platform
        .expect_create_job_group()
        .withf(|name, script, _| name == "t-7" && script == "s")
        .returning(|_, _, _| Ok("g1".into()));
    m.lifecycle
        .expect_set_job_group()
        .withf(|id, g| *id == TaskId(7) && g == "g1")
        .times(1)
        .returning(|_, _| Ok(()));
    m.background
        .expect_dispatch_waiting()
        .times(1)
        .return_const(());
    let started = m
        .build()
        .lifecycle
        .start(&caller(), TaskId(7))
        .await
        .unwrap();
    assert_eq!(
        (started.job_group_id.as_str(), started.leads_total),
        ("g1", 150)
    );
}

#[tokio::test]
async fn start_reverts_to_created_when_the_platform_fails() {
    let mut m = Mocks::new();
    m.tasks
        .expect_get()
        .returning(|_, _| Ok(Some(task(TaskState::Created, "s", None))));
    m.lifecycle
        .expect_transition()
        .returning(|_, _, _, _, _| Ok(task(TaskState::Running, "s", None)));
    m.lifecycle
        .expect_force_state()
        .withf(|id, from, to| {
            *id == TaskId(7) && *from == TaskState::Running && *to == TaskState::Created
        })
        .times(1)
        .returning(|_, _, _| Ok(true));
    m.lifecycle.expect_set_job_group().never();
    m.background.expect_dispatch_waiting().never();
    m.platform
        .expect_create_job_group()
        .returning(|_, _, _| Err(PlatformError::Unavailable("down".into())));
    let r = m.build().lifecycle.start(&caller(), TaskId(7)).await;
    assert!(matches!(
        r,
        Err(ExecError::Platform(PlatformError::Unavailable(_)))
    ));
}

#[tokio::test]
async fn losing_the_start_race_is_not_startable() {
    let mut m = Mocks::new();
    m.tasks
        .expect_get()
        .returning(|_, _| Ok(Some(task(TaskState::Created, "s", None))));
    m.lifecycle
        .expect_transition()
        .returning(|_, _, _, _, _| Err(crate::TransitionError::InvalidState(TaskState::Running)));
    m.platform.expect_create_job_group().never();
    let r = m.build().lifecycle.start(&caller(), TaskId(7)).await;
    assert!(matches!(
        r,
        Err(ExecError::NotStartable(TaskState::Running))
    ));
}

#[tokio::test]
async fn suspend_restores_state_when_platform_fails() {
    let mut m = Mocks::new();
    m.tasks
        .expect_get()
        .returning(|_, _| Ok(Some(task(TaskState::Running, "s", Some("g")))));
    m.lifecycle
        .expect_transition()
        .withf(|_, _, from, to, _| *from == vec![TaskState::Running] && *to == TaskState::Paused)
        .returning(|_, _, _, _, _| Ok(task(TaskState::Paused, "s", Some("g"))));
    m.lifecycle
        .expect_force_state()
        .withf(|_, from, to| *from == TaskState::Paused && *to == TaskState::Running)
        .times(1)
        .returning(|_, _, _| Ok(true));
    m.platform.expect_suspend_jobs().returning(|_| {
        Err(PlatformError::Rejected {
            code: "X".into(),
            message: String::new(),
        })
    });
    assert!(
        m.build()
            .lifecycle
            .suspend(&caller(), TaskId(7))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn resume_moves_paused_tasks_only_and_wakes_the_dispatcher() {
    let mut m = Mocks::new();
    m.tasks
        .expect_get()
        .returning(|_, _| Ok(Some(task(TaskState::Paused, "s", Some("g")))));
    m.lifecycle
        .expect_transition()
        .withf(|_, _, from, to, _| *from == vec![TaskState::Paused] && *to == TaskState::Running)
        .returning(|_, _, _, _, _| Ok(task(TaskState::Running, "s", Some("g"))));
    m.platform
        .expect_resume_jobs()
        .times(1)
        .returning(|_| Ok(()));
    m.background
        .expect_dispatch_waiting()
        .times(1)
        .return_const(());
    let t = m
        .build()
        .lifecycle
        .resume(&caller(), TaskId(7))
        .await
        .unwrap();
    assert_eq!(t.state, TaskState::Running);
}

#[tokio::test]
async fn stop_stands_when_the_platform_no_longer_knows_the_group() {
    let mut m = Mocks::new();
    m.tasks
        .expect_get()
        .returning(|_, _| Ok(Some(task(TaskState::Running, "s", Some("g")))));
    m.lifecycle
        .expect_transition()
        .returning(|_, _, _, _, _| Ok(task(TaskState::Stopped, "s", Some("g"))));
    m.platform
        .expect_cancel_jobs()
        .returning(|_| Err(PlatformError::NotFound));
    m.lifecycle.expect_force_state().never();
    m.lifecycle
        .expect_cancel_open_leads()
        .times(1)
        .returning(|_| Ok(3));
    m.results
        .expect_refresh_counters()
        .times(1)
        .returning(|_| Ok(()));
    assert!(m.build().lifecycle.stop(&caller(), TaskId(7)).await.is_ok());
}
