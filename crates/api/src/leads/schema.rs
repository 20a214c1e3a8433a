//! Request schemas of leads: the lead filter and the import row as the OpenAPI document
//! describes them for requests.
//!
//! A request schema says what the service accepts, so that data generated from it
//! (`scripts/fuzz-api.sh`) is really accepted: lengths, patterns and enums mirror the domain's
//! validation. No text may contain U+0000 (PostgreSQL cannot store it; 400). Values are trimmed
//! before lengths are checked, so a value that is blank is refused where one is required.
//!
//! These are documents of validation, not copies of the domain types: the domain's
//! `LeadFilterInput` and `LeadInput` are what requests deserialize into (their own schemas, with
//! no patterns, describe a stored scene's filter, which is shown as it was given), and a unit
//! test keeps the field names of both equal. See docs/decisions.md.

use serde_json::json;
use utoipa::ToSchema;
use utoipa::openapi::schema::{Array, ArrayBuilder, Object, ObjectBuilder, SchemaType, Type};

/// Pattern of a time the API accepts: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` (the service's time
/// zone) or ISO-8601 with `T` and an offset. Years are four digits (0000..=9999).
pub const TIME_PATTERN: &str = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])( ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]|T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$";
/// Pattern of required text: not blank, no U+0000.
pub const NOT_BLANK_PATTERN: &str = r"^[^\u0000]*[^\s\u0000][^\u0000]*$";
/// Pattern of optional text: no U+0000.
pub const NO_NUL_PATTERN: &str = r"^[^\u0000]*$";
/// Pattern of a mainland mobile number: 11 digits starting with 1.
pub const PHONE_PATTERN: &str = r"^1[0-9]{10}$";

fn nullable(t: Type) -> SchemaType {
    SchemaType::from_iter([t, Type::Null])
}

fn time_schema(description: &str, example: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(nullable(Type::String))
        .pattern(Some(TIME_PATTERN))
        .description(Some(description))
        .examples([json!(example)])
        .build()
}

fn text_list_schema(max_chars: usize, description: &str, example: serde_json::Value) -> Array {
    ArrayBuilder::new()
        .schema_type(nullable(Type::Array))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(max_chars))
                .pattern(Some(NOT_BLANK_PATTERN)),
        )
        .max_items(Some(leads::MAX_LIST))
        .description(Some(description))
        .examples([example])
        .build()
}

fn filter_sources() -> Array {
    text_list_schema(64, "Sources (each 1..=64 characters).", json!(["汽车之家"]))
}

fn filter_statuses() -> Array {
    text_list_schema(
        32,
        "Follow-up statuses (each 1..=32 characters).",
        json!(["未跟进"]),
    )
}

fn filter_vehicle_models() -> Array {
    text_list_schema(
        64,
        "Vehicle models (each 1..=64 characters).",
        json!(["凯美瑞"]),
    )
}

fn filter_created_from() -> Object {
    time_schema("Created at or after (inclusive).", "2025-11-01")
}

fn filter_created_to() -> Object {
    time_schema(
        "Created at or before (inclusive; a bare date means the whole day). Not before `created_from`.",
        "2025-11-30",
    )
}

fn filter_not_called_since() -> Object {
    time_schema(
        "Not called since (never called counts as not called).",
        "2025-11-01 00:00:00",
    )
}

fn row_create_time() -> Object {
    time_schema("Creation time (default: now).", "2025-11-10 10:00:00")
}

/// An intent level: `H`, `A`, `B`, `C`, or `N` for none.
#[derive(ToSchema, serde::Deserialize)]
pub enum LevelDto {
    /// High.
    H,
    /// A.
    A,
    /// B.
    B,
    /// C.
    C,
    /// None.
    N,
}

/// The lead filter of a request. All optional; parts combine with AND, the values of one list
/// with OR. Unknown fields are 400. `do_not_call` leads are never selected.
#[derive(ToSchema, serde::Deserialize)]
#[schema(as = LeadFilter)]
#[serde(deny_unknown_fields)]
pub struct LeadFilterDto {
    /// Organisations (each must be in the caller's subtree, else 404).
    #[schema(max_items = 200, example = json!([1]))]
    pub org_ids: Option<Vec<i64>>,
    /// Intent levels.
    #[schema(max_items = 200, example = json!(["H", "A"]))]
    pub levels: Option<Vec<LevelDto>>,
    /// Sources.
    #[schema(schema_with = filter_sources)]
    pub sources: Option<Vec<String>>,
    /// Follow-up statuses.
    #[schema(schema_with = filter_statuses)]
    pub statuses: Option<Vec<String>>,
    /// Vehicle models.
    #[schema(schema_with = filter_vehicle_models)]
    pub vehicle_models: Option<Vec<String>>,
    /// Created at or after.
    #[schema(schema_with = filter_created_from)]
    pub created_from: Option<String>,
    /// Created at or before.
    #[schema(schema_with = filter_created_to)]
    pub created_to: Option<String>,
    /// Not called since.
    #[schema(schema_with = filter_not_called_since)]
    pub not_called_since: Option<String>,
    /// At most this many calls so far.
    #[schema(minimum = 0, maximum = 2147483647, example = 3)]
    pub max_call_count: Option<i64>,
    /// Literal substring of the customer name or the phone (`%` and `_` are plain characters),
    /// up to 64 characters.
    #[schema(max_length = 64, pattern = r"^[^\u0000]*$", example = "张")]
    pub keyword: Option<String>,
    /// Leave out leads whose phone is in a task in state 1, 2 or 4 of the same organisation
    /// (default true).
    pub exclude_in_active_tasks: Option<bool>,
}

/// A row of `POST /api/leads/import`. A row that breaks these rules (or has an unknown field) is
/// reported in `rejected`; the other rows are imported.
#[derive(ToSchema, serde::Deserialize)]
#[schema(as = LeadImportRow)]
#[serde(deny_unknown_fields)]
pub struct LeadImportRowDto {
    /// Id in the source system (identity when given), up to 64 characters.
    #[schema(max_length = 64, pattern = r"^[^\u0000]*$")]
    pub external_id: Option<String>,
    /// Customer name, 1..=64 characters.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$",
        example = "张三"
    )]
    pub customer_name: String,
    /// Mainland mobile number: 11 digits starting with 1 (spaces, dashes and a `+86` prefix are
    /// removed first).
    #[schema(pattern = r"^1[0-9]{10}$", example = "13812345678")]
    pub phone: String,
    /// Intent level.
    pub level: Option<LevelDto>,
    /// Source, up to 64 characters.
    #[schema(max_length = 64, pattern = r"^[^\u0000]*$", example = "汽车之家")]
    pub source: Option<String>,
    /// Vehicle model, up to 64 characters.
    #[schema(max_length = 64, pattern = r"^[^\u0000]*$")]
    pub vehicle_model: Option<String>,
    /// Follow-up status (free text), up to 32 characters.
    #[schema(max_length = 32, pattern = r"^[^\u0000]*$", example = "未跟进")]
    pub status: Option<String>,
    /// Sales owner, up to 64 characters.
    #[schema(max_length = 64, pattern = r"^[^\u0000]*$")]
    pub owner_name: Option<String>,
    /// Creation time.
    #[schema(schema_with = row_create_time)]
    pub create_time: Option<String>,
    /// Never call.
    pub do_not_call: Option<bool>,
}
