//! What every page shows around its content ([`Layout`]), and the few ways the console writes
//! numbers, times and states.

use api::words::state_name;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tasks::TaskState;

use crate::assets;
use api::extract::Auth;

/// The signed-in operator, as the header shows them.
pub struct Operator {
    /// Display name.
    pub name: String,
    /// Their organisation.
    pub org: String,
    /// Whether they are an admin.
    pub admin: bool,
    /// Whether they must change a reset password (then the navigation leads nowhere else).
    pub must_change_password: bool,
}

/// The frame of every page: the stylesheet and scripts, the header with its navigation.
pub struct Layout {
    /// Who is signed in (none on the login and error pages).
    pub operator: Option<Operator>,
    /// Which navigation entry is the current page (`home`, `leads`, `test-env`, `users`,
    /// `organizations`, `account`).
    pub active: &'static str,
    /// The stylesheet's URL.
    pub css: &'static str,
    /// htmx's URL.
    pub htmx: String,
    /// The console's own script's URL.
    pub js: &'static str,
    /// The SSE extension's URL.
    pub sse: String,
}

impl Layout {
    /// The frame of a page of a signed-in operator.
    pub fn of(session: &Auth, active: &'static str) -> Self {
        Layout {
            operator: Some(Operator {
                name: session.user.display_name.clone(),
                org: session.user.org_name.clone(),
                admin: session.caller.role == kernel::Role::Admin,
                must_change_password: session.user.password_change_required,
            }),
            ..Layout::anonymous_at(active)
        }
    }

    /// The frame of a page without a session.
    pub fn anonymous() -> Self {
        Layout::anonymous_at("")
    }

    fn anonymous_at(active: &'static str) -> Self {
        Layout {
            operator: None,
            active,
            css: assets::css_path(),
            js: assets::js_path(),
            htmx: format!("/static/{}", assets::HTMX),
            sse: format!("/static/{}", assets::HTMX_SSE),
        }
    }
}

/// A task state as a badge: its Chinese name (the API's) and a class for its colour.
pub struct Badge {
    /// The state's name.
    pub name: &'static str,
    /// CSS class.
    pub class: &'static str,
}

impl Badge {
    /// The badge of a state.
    pub fn of(s: TaskState) -> Self {
        Badge {
            name: state_name(s),
            class: match s {
                TaskState::Created => "badge created",
                TaskState::Running => "badge running",
                TaskState::Completed => "badge completed",
                TaskState::Paused => "badge paused",
                TaskState::Stopped => "badge stopped",
            },
        }
    }
}

/// A time as the console shows it: `YYYY-MM-DD HH:MM` in the service's zone.
pub fn time(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// A ratio (0..=1) in percent with one decimal.
pub fn percent(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}

/// A count with thousands separators (`12,345`).
pub fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_percentages_read_as_people_write_them() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(-4321), "-4,321");
        assert_eq!(percent(0.4567), "45.7%");
    }
}
