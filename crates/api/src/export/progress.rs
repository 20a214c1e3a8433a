//! What an export sent, logged when it ends: finished, failed, or abandoned by its client (the
//! export dropped before its end: the client left and the reading stopped).

use kernel::TaskId;

use super::dto::ExportFormat;

/// Rows sent so far, and how the export ended.
pub struct Progress {
    task: TaskId,
    format: ExportFormat,
    /// Rows read and written out.
    pub rows: usize,
    ended: bool,
}

impl Progress {
    /// An export of `task` as `format` starting.
    pub fn new(task: TaskId, format: ExportFormat) -> Self {
        Self {
            task,
            format,
            rows: 0,
            ended: false,
        }
    }

    /// Every row was sent.
    pub fn finished(&mut self) {
        self.ended = true;
        tracing::info!(
            task_id = self.task.0,
            format = self.format.extension(),
            rows = self.rows,
            "export finished"
        );
    }

    /// It stopped on an error.
    pub fn failed(&mut self, error: &dyn std::fmt::Display) {
        self.ended = true;
        tracing::warn!(task_id = self.task.0, format = self.format.extension(), rows = self.rows, %error, "export stopped");
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if !self.ended {
            tracing::info!(
                task_id = self.task.0,
                format = self.format.extension(),
                rows = self.rows,
                "export abandoned by the client"
            );
        }
    }
}
