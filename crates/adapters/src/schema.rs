// @generated automatically by Diesel CLI (`diesel print-schema`), from ../../migrations.

diesel::table! {
    call_tasks (id) {
        id -> Int8,
        org_id -> Int8,
        created_by -> Nullable<Int8>,
        task_name -> Text,
        task_type -> Int2,
        script_id -> Text,
        job_group_id -> Nullable<Text>,
        size_desc -> Text,
        filters -> Jsonb,
        leads_count -> Int8,
        called_count -> Int8,
        connected_count -> Int8,
        create_time -> Timestamptz,
        update_time -> Timestamptz,
        dispatch_locked_by -> Nullable<Text>,
        dispatch_locked_until -> Nullable<Timestamptz>,
        monitor_locked_by -> Nullable<Text>,
        monitor_locked_until -> Nullable<Timestamptz>,
        synced_final_jobs -> Int8,
    }
}

diesel::table! {
    platform_budget (account) {
        account -> Text,
        rate -> Float8,
        slow_start -> Bool,
        ceiling -> Float8,
        next_free -> Timestamptz,
        last_read -> Timestamptz,
        dispatch_demand_until -> Timestamptz,
        last_cut -> Timestamptz,
        reserved -> Int8,
        throttled -> Int8,
        updated_at -> Timestamptz,
        recent_slots -> Array<Timestamptz>,
    }
}

diesel::table! {
    dcc_leads (id) {
        id -> Int8,
        org_id -> Int8,
        ident -> Text,
        external_id -> Nullable<Text>,
        customer_name -> Text,
        phone -> Text,
        level -> Text,
        source -> Text,
        vehicle_model -> Text,
        status -> Text,
        owner_name -> Text,
        create_time -> Timestamptz,
        last_call_time -> Nullable<Timestamptz>,
        call_count -> Int4,
        do_not_call -> Bool,
    }
}

diesel::table! {
    leads_task_list (id) {
        id -> Int8,
        task_id -> Int8,
        org_id -> Int8,
        lead_id -> Int8,
        phone -> Text,
        customer_name -> Text,
        call_status -> Text,
        job_id -> Nullable<Text>,
        attempts -> Int4,
        last_call_time -> Nullable<Timestamptz>,
        duration_seconds -> Nullable<Int4>,
        intent_level -> Nullable<Text>,
        intent_tags -> Jsonb,
        summary -> Nullable<Text>,
        follow_suggestion -> Nullable<Text>,
        update_time -> Timestamptz,
        batch_id -> Nullable<Int8>,
        prev_attempts -> Int4,
    }
}

diesel::table! {
    dispatch_batches (id) {
        id -> Int8,
        task_id -> Int8,
        worker -> Text,
        state -> Text,
        size -> Int4,
        created_at -> Timestamptz,
        closed_at -> Nullable<Timestamptz>,
        sent_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    query_execution_runs (id) {
        id -> Int8,
        task_id -> Int8,
        org_id -> Int8,
        status -> Text,
        total -> Int8,
        processed -> Int8,
        next_page -> Int4,
        error -> Nullable<Text>,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    org_counts (org_id, kind) {
        org_id -> Int8,
        kind -> Text,
        n -> Int8,
    }
}

diesel::table! {
    organizations (id) {
        id -> Int8,
        name -> Text,
        parent_id -> Nullable<Int8>,
        create_time -> Timestamptz,
    }
}

diesel::table! {
    scenes (id) {
        id -> Int8,
        org_id -> Int8,
        created_by -> Nullable<Int8>,
        scene_name -> Text,
        script_id -> Text,
        description -> Text,
        filters -> Jsonb,
        create_time -> Timestamptz,
    }
}

diesel::table! {
    service_settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    task_lead_counts (task_id, call_status, intent_level, has_job) {
        task_id -> Int8,
        call_status -> Text,
        intent_level -> Text,
        has_job -> Bool,
        n -> Int8,
        duration_sum -> Int8,
        duration_n -> Int8,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        username -> Text,
        password_hash -> Text,
        display_name -> Text,
        role -> Text,
        org_id -> Int8,
        create_time -> Timestamptz,
        enabled -> Bool,
        must_change_password -> Bool,
        token_version -> Int4,
    }
}

diesel::table! {
    revoked_tokens (token_id) {
        token_id -> Text,
        user_id -> Int8,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Int8,
        org_id -> Int8,
        url -> Text,
        events -> Array<Text>,
        description -> Text,
        enabled -> Bool,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamptz>,
        created_by -> Nullable<Int8>,
        create_time -> Timestamptz,
        update_time -> Timestamptz,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Int8,
        webhook_id -> Int8,
        event_id -> Text,
        event_type -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamptz>,
        last_status -> Nullable<Int4>,
        last_error -> Nullable<Text>,
        last_response -> Nullable<Text>,
        create_time -> Timestamptz,
        update_time -> Timestamptz,
    }
}

diesel::joinable!(call_tasks -> organizations (org_id));
diesel::joinable!(webhooks -> organizations (org_id));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(call_tasks -> users (created_by));
diesel::joinable!(dcc_leads -> organizations (org_id));
diesel::joinable!(dispatch_batches -> call_tasks (task_id));
diesel::joinable!(org_counts -> organizations (org_id));
diesel::joinable!(task_lead_counts -> call_tasks (task_id));
diesel::joinable!(query_execution_runs -> call_tasks (task_id));
diesel::joinable!(leads_task_list -> call_tasks (task_id));
diesel::joinable!(scenes -> organizations (org_id));
diesel::joinable!(scenes -> users (created_by));
diesel::joinable!(users -> organizations (org_id));
diesel::joinable!(revoked_tokens -> users (user_id));

diesel::table! {
    audit_log (id) {
        id -> Int8,
        time -> Timestamptz,
        actor_id -> Nullable<Int8>,
        actor_name -> Text,
        org_id -> Nullable<Int8>,
        action -> Text,
        target_kind -> Nullable<Text>,
        target_id -> Nullable<Int8>,
        outcome -> Text,
        request_id -> Nullable<Text>,
        client_addr -> Nullable<Text>,
        details -> Jsonb,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Int8,
        username -> Text,
        client_addr -> Text,
        at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    audit_log,
    login_failures,
    call_tasks,
    dcc_leads,
    dispatch_batches,
    leads_task_list,
    query_execution_runs,
    org_counts,
    revoked_tokens,
    organizations,
    scenes,
    service_settings,
    task_lead_counts,
    users,
    webhooks,
    webhook_deliveries,
);

diesel::define_sql_function! {
    /// `sum` of BIGINT as BIGINT, 0 over no rows (an aggregate of our migrations). Built with the
    /// query builder, unlike a raw `sum(n)::bigint`, it keeps the statement cacheable.
    #[aggregate]
    fn sum_int8(x: diesel::sql_types::BigInt) -> diesel::sql_types::BigInt;
}
