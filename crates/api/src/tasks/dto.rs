//! DTOs of tasks and scenes.

use std::collections::BTreeMap;

use kernel::format_time;
use leads::LeadFilterInput;
use serde::{Deserialize, Serialize};
use tasks::{CallTask, CreatedTask, Scene, TaskStats};
use utoipa::{IntoParams, ToSchema};

/// The contract's `Task`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskDto {
    /// Id.
    pub id: i64,
    /// Name.
    pub task_name: String,
    /// State: 1 created, 2 running, 3 completed, 4 paused, 5 stopped.
    #[schema(minimum = 1, maximum = 5, example = 1)]
    pub task_type: i16,
    /// Created, `YYYY-MM-DD HH:MM:SS`.
    pub create_time: String,
    /// Last changed, `YYYY-MM-DD HH:MM:SS`.
    pub update_time: String,
    /// Leads in the task.
    pub leads_count: i64,
    /// Script on the platform (`""` when not set).
    pub script_id: String,
    /// Platform job group, once started.
    #[schema(required = true)]
    pub job_group_id: Option<String>,
    /// Human summary of the filter.
    pub size_desc: String,
    /// Leads whose call was attempted.
    pub called_count: i64,
    /// Leads whose call connected.
    pub connected_count: i64,
}

impl TaskDto {
    /// A task as the API shows it, times in `tz`.
    pub fn new(t: CallTask, tz: chrono_tz::Tz) -> Self {
        Self {
            id: t.id.0,
            task_name: t.task_name,
            task_type: t.state.code(),
            create_time: format_time(t.create_time, tz),
            update_time: format_time(t.update_time, tz),
            leads_count: t.leads_count,
            script_id: t.script_id,
            job_group_id: t.job_group_id,
            size_desc: t.size_desc,
            called_count: t.called_count,
            connected_count: t.connected_count,
        }
    }
}

/// `data` of `POST /api/create-autoCall-tasks`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedTaskDto {
    /// The new task's id.
    pub task_id: i64,
    /// Name.
    pub task_name: String,
    /// Always 1 (created).
    #[schema(minimum = 1, maximum = 1, example = 1)]
    pub task_type: i16,
    /// Leads in the task (distinct phones).
    pub leads_count: i64,
    /// Matching leads left out because another lead had the same phone.
    pub duplicates_removed: i64,
    /// Human summary of the filter.
    #[schema(example = "意向级别: H/A; 来源: 汽车之家; 创建时间: 2025-11-01 至 2025-11-30")]
    pub size_desc: String,
    /// Created, `YYYY-MM-DD HH:MM:SS`.
    pub create_time: String,
}

impl CreatedTaskDto {
    /// A created task as the API shows it.
    pub fn new(created: CreatedTask, tz: chrono_tz::Tz) -> Self {
        let t = created.task;
        Self {
            task_id: t.id.0,
            task_name: t.task_name,
            task_type: t.state.code(),
            leads_count: t.leads_count,
            duplicates_removed: created.duplicates_removed,
            size_desc: t.size_desc,
            create_time: format_time(t.create_time, tz),
        }
    }
}

/// `data` of `GET /api/task-stats`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskStatsDto {
    /// Tasks.
    pub total_tasks: i64,
    /// Tasks per state code (`"1"`..`"5"`).
    pub by_type: BTreeMap<String, i64>,
    /// Leads over all tasks.
    pub total_leads: i64,
    /// Called leads.
    pub called: i64,
    /// Connected leads.
    pub connected: i64,
    /// connected / called, 0..1 (0 when nothing was called).
    #[schema(minimum = 0, maximum = 1)]
    pub connect_rate: f64,
}

impl From<TaskStats> for TaskStatsDto {
    fn from(s: TaskStats) -> Self {
        Self {
            total_tasks: s.total_tasks,
            by_type: s.by_type,
            total_leads: s.total_leads,
            called: s.called,
            connected: s.connected,
            connect_rate: s.connect_rate,
        }
    }
}

/// A scene: a saved script and filter.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SceneDto {
    /// Id.
    pub id: i64,
    /// Name.
    pub scene_name: String,
    /// Script.
    pub script_id: String,
    /// Description (`""` when none).
    pub description: String,
    /// The filter, as it was given.
    pub filters: LeadFilterInput,
    /// Created, `YYYY-MM-DD HH:MM:SS`.
    pub create_time: String,
}

impl SceneDto {
    /// A scene as the API shows it.
    pub fn new(s: Scene, tz: chrono_tz::Tz) -> Self {
        Self {
            id: s.id.0,
            scene_name: s.scene_name,
            script_id: s.script_id,
            description: s.description,
            filters: s.filters,
            create_time: format_time(s.create_time, tz),
        }
    }
}

/// `POST /api/create-autoCall-tasks` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// Name, 1..=100 characters (not unique).
    #[schema(
        example = "双十一回访",
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    pub task_name: String,
    /// Script on the platform, up to 128 characters; may be empty and set later. With `scene_id`,
    /// empty takes the scene's script.
    #[serde(default)]
    #[schema(example = "", max_length = 128, pattern = r"^[^\u0000]*$")]
    pub script_id: String,
    /// Human summary of the filter, up to 500 characters; written by the service when omitted
    /// or blank.
    #[serde(default)]
    #[schema(max_length = 500, pattern = r"^[^\u0000]*$")]
    pub size_desc: Option<String>,
    /// Which leads; with `scene_id`, omitted takes the scene's filter.
    #[serde(default)]
    #[schema(value_type = Option<crate::leads::schema::LeadFilterDto>)]
    pub filters: Option<LeadFilterInput>,
    /// A scene whose filter and script fill in what the request omits (404 if unknown).
    #[serde(default)]
    pub scene_id: Option<i64>,
}

/// `GET /api/task_list` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TaskListQuery {
    /// Page number, from 1 (default 1).
    #[param(minimum = 1, maximum = 1000000, default = 1)]
    pub page: Option<i64>,
    /// Items per page, 1..=100 (default 20).
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub page_size: Option<i64>,
    /// Only tasks in this state (1 created, 2 running, 3 completed, 4 paused, 5 stopped).
    #[param(minimum = 1, maximum = 5)]
    pub task_type: Option<i64>,
    /// Literal substring of the task name (up to 100 characters).
    #[param(max_length = 100, pattern = r"^[^\u0000]*$")]
    pub keyword: Option<String>,
}

/// `POST /api/update-script-id` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateScriptBody {
    /// The task.
    pub task_id: i64,
    /// Script on the platform, 1..=128 characters (empty is 400).
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    pub script_id: String,
}

/// `POST /api/create_scene` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SceneBody {
    /// Name, 1..=100 characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    pub scene_name: String,
    /// Script on the platform, 1..=128 characters.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    pub script_id: String,
    /// Description, up to 500 characters.
    #[serde(default)]
    #[schema(max_length = 500, pattern = r"^[^\u0000]*$")]
    pub description: Option<String>,
    /// The lead filter tasks of this scene use.
    #[serde(default)]
    #[schema(value_type = Option<crate::leads::schema::LeadFilterDto>)]
    pub filters: Option<LeadFilterInput>,
}
