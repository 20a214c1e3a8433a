//! The lead filter as a form (task creation, scenes, the lead list): its fields, filled with a
//! filter's values, and the form's fields read back into a [`LeadFilterInput`].

use api::ApiState;
use kernel::OrgId;
use leads::LeadFilterInput;
use org::OrgNode;

use crate::error::ConsoleError;
use crate::session::Session;

/// One checkbox.
pub struct Choice {
    /// Submitted value.
    pub value: String,
    /// Label (indented by depth for organisations).
    pub label: String,
    /// Depth in the organisation tree (0 elsewhere).
    pub depth: usize,
    /// Checked.
    pub checked: bool,
}

/// The filter's fields, as `templates/filter_fields.html` shows them.
pub struct FilterForm {
    /// Organisations of the caller's subtree.
    pub orgs: Vec<Choice>,
    /// Intent levels known in the caller's leads.
    pub levels: Vec<Choice>,
    /// Sources known in the caller's leads.
    pub sources: Vec<Choice>,
    /// Follow-up statuses known in the caller's leads.
    pub statuses: Vec<Choice>,
    /// Vehicle models, comma-separated.
    pub vehicle_models: String,
    /// Dates (`YYYY-MM-DD`) or times as typed.
    pub created_from: String,
    /// See `created_from`.
    pub created_to: String,
    /// See `created_from`.
    pub not_called_since: String,
    /// A number as typed.
    pub max_call_count: String,
    /// Name or phone substring.
    pub keyword: String,
    /// The "leave out leads in unfinished tasks" box: `None` hides it.
    pub exclude: Option<bool>,
}

fn flatten(nodes: &[OrgNode], depth: usize, checked: &[OrgId], out: &mut Vec<Choice>) {
    for n in nodes {
        out.push(Choice {
            value: n.id.0.to_string(),
            label: n.name.clone(),
            depth,
            checked: checked.contains(&n.id),
        });
        flatten(&n.children, depth + 1, checked, out);
    }
}

fn choices<'a>(
    known: impl Iterator<Item = &'a String>,
    chosen: &Option<Vec<String>>,
) -> Vec<Choice> {
    let chosen = chosen.clone().unwrap_or_default();
    let mut values: Vec<String> = known.filter(|k| !k.is_empty()).cloned().collect();
    for c in &chosen {
        if !values.contains(c) {
            values.push(c.clone());
        }
    }
    values
        .into_iter()
        .map(|v| Choice {
            checked: chosen.contains(&v),
            label: v.clone(),
            value: v,
            depth: 0,
        })
        .collect()
}

impl FilterForm {
    /// The form filled with `input`, its choices those of the caller's organisations and leads.
    /// `exclude_default`: whether the unfinished-task box is shown, and its value when `input`
    /// leaves it open.
    pub async fn load(
        state: &ApiState,
        session: &Session,
        input: &LeadFilterInput,
        exclude_default: Option<bool>,
    ) -> Result<Self, ConsoleError> {
        let scope = &session.caller.scope;
        let (tree, stats) = futures::try_join!(
            async { Ok::<_, ConsoleError>(state.orgs.tree(scope).await?) },
            async { Ok::<_, ConsoleError>(state.leads.statistics(scope).await?) },
        )?;
        let mut orgs = Vec::new();
        flatten(
            &tree,
            0,
            input.org_ids.as_deref().unwrap_or_default(),
            &mut orgs,
        );
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Ok(FilterForm {
            orgs,
            levels: choices(stats.by_level.keys(), &input.levels),
            sources: choices(stats.by_source.keys(), &input.sources),
            statuses: choices(stats.by_status.keys(), &input.statuses),
            vehicle_models: input.vehicle_models.clone().unwrap_or_default().join(", "),
            created_from: text(&input.created_from),
            created_to: text(&input.created_to),
            not_called_since: text(&input.not_called_since),
            max_call_count: input
                .max_call_count
                .map(|n| n.to_string())
                .unwrap_or_default(),
            keyword: text(&input.keyword),
            exclude: exclude_default.map(|d| input.exclude_in_active_tasks.unwrap_or(d)),
        })
    }
}

/// The fields of a submitted form (query string or body), in order, repeated keys kept.
pub fn pairs(raw: &str) -> Result<Vec<(String, String)>, ConsoleError> {
    serde_urlencoded::from_str(raw).map_err(|e| ConsoleError::bad_input(format!("表单无效: {e}")))
}

/// The last value of `key`, trimmed, if not empty.
pub fn field(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The filter of a submitted form; the domain validates it as it validates the API's.
pub fn read(pairs: &[(String, String)]) -> Result<LeadFilterInput, ConsoleError> {
    let all = |key: &str| -> Option<Vec<String>> {
        let v: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        (!v.is_empty()).then_some(v)
    };
    let org_ids = match all("org_ids") {
        None => None,
        Some(ids) => Some(
            ids.iter()
                .map(|s| s.parse().map(OrgId))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| ConsoleError::bad_input("组织无效"))?,
        ),
    };
    let vehicle_models = field(pairs, "vehicle_models").map(|s| {
        s.split([',', '，', ' '])
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    let max_call_count = match field(pairs, "max_call_count") {
        None => None,
        Some(n) => Some(
            n.parse()
                .map_err(|_| ConsoleError::bad_input("最多外呼次数须为整数"))?,
        ),
    };
    let exclude_in_active_tasks = match field(pairs, "exclude_in_active_tasks").as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(ConsoleError::bad_input("排除选项无效")),
    };
    Ok(LeadFilterInput {
        org_ids,
        levels: all("levels"),
        sources: all("sources"),
        statuses: all("statuses"),
        vehicle_models: vehicle_models.filter(|v| !v.is_empty()),
        created_from: field(pairs, "created_from"),
        created_to: field(pairs, "created_to"),
        not_called_since: field(pairs, "not_called_since"),
        max_call_count,
        keyword: field(pairs, "keyword"),
        exclude_in_active_tasks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_become_lists_and_the_last_exclusion_value_wins() {
        let p = pairs(
            "levels=H&levels=A&org_ids=3&vehicle_models=%E5%87%AF%E7%BE%8E%E7%91%9E%EF%BC%8C+RAV4\
             &keyword=+&exclude_in_active_tasks=false&exclude_in_active_tasks=true&max_call_count=2",
        )
        .unwrap_or_default();
        let f = read(&p).ok().unwrap_or_default();
        assert_eq!(f.levels, Some(vec!["H".to_owned(), "A".to_owned()]));
        assert_eq!(f.org_ids, Some(vec![OrgId(3)]));
        assert_eq!(
            f.vehicle_models,
            Some(vec!["凯美瑞".to_owned(), "RAV4".to_owned()])
        );
        assert_eq!(f.keyword, None);
        assert_eq!(f.exclude_in_active_tasks, Some(true));
        assert_eq!(f.max_call_count, Some(2));
    }

    #[test]
    fn a_field_that_is_not_a_number_is_refused() {
        for bad in [
            "org_ids=x",
            "max_call_count=two",
            "exclude_in_active_tasks=maybe",
        ] {
            let p = pairs(bad).unwrap_or_default();
            assert!(read(&p).is_err(), "{bad}");
        }
    }
}
