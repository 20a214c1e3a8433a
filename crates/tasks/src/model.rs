//! Task, scene and state types.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kernel::{OrgId, SceneId, TaskId, UserId};
use leads::LeadFilterInput;
use serde::Serialize;

/// The state of a call task (`task_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskState {
    /// 1: task and its lead list exist; not yet calling.
    Created,
    /// 2: job group created; jobs being dispatched / called.
    Running,
    /// 3: every job reached a final state.
    Completed,
    /// 4: suspended on the platform.
    Paused,
    /// 5: stopped by a user or failed terminally.
    Stopped,
}

impl TaskState {
    /// All states, in code order.
    pub const ALL: [TaskState; 5] = [
        TaskState::Created,
        TaskState::Running,
        TaskState::Completed,
        TaskState::Paused,
        TaskState::Stopped,
    ];

    /// The contract's code (1..=5).
    pub fn code(self) -> i16 {
        match self {
            TaskState::Created => 1,
            TaskState::Running => 2,
            TaskState::Completed => 3,
            TaskState::Paused => 4,
            TaskState::Stopped => 5,
        }
    }

    /// The state's English name (`created`, `running`, `completed`, `paused`, `stopped`), as
    /// webhooks name it.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Created => "created",
            TaskState::Running => "running",
            TaskState::Completed => "completed",
            TaskState::Paused => "paused",
            TaskState::Stopped => "stopped",
        }
    }

    /// From the contract's code.
    pub fn from_code(code: i64) -> Option<TaskState> {
        TaskState::ALL
            .into_iter()
            .find(|s| i64::from(s.code()) == code)
    }

    /// The unfinished states (1, 2, 4): a lead in a task in one of these is "in an unfinished
    /// task", and by default not put into another one.
    pub const ACTIVE: [TaskState; 3] = [TaskState::Created, TaskState::Running, TaskState::Paused];

    /// Whether the task is unfinished (one of [`TaskState::ACTIVE`]).
    pub fn is_active(self) -> bool {
        TaskState::ACTIVE.contains(&self)
    }

    /// Whether `self → to` is an allowed transition.
    pub fn can_become(self, to: TaskState) -> bool {
        use TaskState::*;
        matches!(
            (self, to),
            (Created, Running)
                | (Running, Paused)
                | (Paused, Running)
                | (Running, Completed)
                | (Created | Running | Paused, Stopped)
        )
    }

    /// States from which `to` may be reached.
    pub fn sources_of(to: TaskState) -> Vec<TaskState> {
        TaskState::ALL
            .into_iter()
            .filter(|s| s.can_become(to))
            .collect()
    }
}

/// A call task.
#[derive(Debug, Clone, PartialEq)]
pub struct CallTask {
    /// Id.
    pub id: TaskId,
    /// Owning organisation.
    pub org_id: OrgId,
    /// Name.
    pub task_name: String,
    /// State.
    pub state: TaskState,
    /// Created.
    pub create_time: DateTime<Utc>,
    /// Last changed.
    pub update_time: DateTime<Utc>,
    /// Leads in the task.
    pub leads_count: i64,
    /// Script on the platform ("" when not set).
    pub script_id: String,
    /// Platform job group, once started.
    pub job_group_id: Option<String>,
    /// Human summary of the filter.
    pub size_desc: String,
    /// Leads whose call was attempted.
    pub called_count: i64,
    /// Leads whose call connected.
    pub connected_count: i64,
}

/// A task to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    /// Owning organisation: the creator's (its leads may come from descendants).
    pub org_id: OrgId,
    /// Name.
    pub task_name: String,
    /// Script ("" allowed).
    pub script_id: String,
    /// Summary.
    pub size_desc: String,
    /// The filter as given (stored with the task).
    pub filters: LeadFilterInput,
    /// Creator.
    pub created_by: UserId,
}

/// Result of creating a task.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedTask {
    /// The task.
    pub task: CallTask,
    /// Matching callable leads left out because another lead had the same phone.
    pub duplicates_removed: i64,
}

/// Counts over a scope's tasks.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct TaskStats {
    /// Tasks.
    pub total_tasks: i64,
    /// Tasks per state code ("1".."5").
    pub by_type: BTreeMap<String, i64>,
    /// Leads over all tasks.
    pub total_leads: i64,
    /// Called leads.
    pub called: i64,
    /// Connected leads.
    pub connected: i64,
    /// connected / called (0 when nothing called).
    pub connect_rate: f64,
}

/// A saved script + filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    /// Id.
    pub id: SceneId,
    /// Owning organisation.
    pub org_id: OrgId,
    /// Name.
    pub scene_name: String,
    /// Script.
    pub script_id: String,
    /// Description.
    pub description: String,
    /// Filter.
    pub filters: LeadFilterInput,
    /// Created.
    pub create_time: DateTime<Utc>,
}

/// A scene to save.
#[derive(Debug, Clone, PartialEq)]
pub struct NewScene {
    /// Name.
    pub scene_name: String,
    /// Script.
    pub script_id: String,
    /// Description.
    pub description: String,
    /// Filter (validated before saving).
    pub filters: LeadFilterInput,
}

#[cfg(test)]
mod tests {
    use super::TaskState::*;
    use super::*;

    #[test]
    fn transitions_follow_the_contract() {
        let allowed = [(1, 2), (2, 4), (4, 2), (2, 3), (1, 5), (2, 5), (4, 5)];
        for from in TaskState::ALL {
            for to in TaskState::ALL {
                let want = allowed.contains(&(from.code(), to.code()));
                assert_eq!(from.can_become(to), want, "{from:?} -> {to:?}");
            }
        }
        assert_eq!(
            TaskState::sources_of(Stopped),
            vec![Created, Running, Paused]
        );
        assert_eq!(TaskState::from_code(4), Some(Paused));
        assert_eq!(TaskState::from_code(6), None);
    }
}
