//! The actions of the wire protocol, each a method of the simulator's state: create a group,
//! assign jobs, suspend / resume / cancel, query results, describe a group.

#![allow(
    clippy::indexing_slicing,
    reason = "jobs and groups are arenas: their indices are made by pushing and never removed, and no index comes from a request (requests name ids, looked up in maps)"
)]

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::params::Params;
use super::{ApiError, Contact, Group, Job, JobIn, Payload, State, Status, next_id};

impl State {
    pub(super) fn dispatch(
        &mut self,
        p: Params<'_>,
        wall: DateTime<Utc>,
    ) -> Result<Payload, ApiError> {
        match p.get("Action").unwrap_or_default() {
            "CreateJobGroup" => self.create_group(p, wall),
            "AssignJobs" => self.assign(p),
            a @ ("SuspendJobs" | "ResumeJobs" | "CancelJobs") => self.control(a, p),
            "QueryJobsWithResult" => self.query(p),
            "DescribeJobGroup" => self.describe(p),
            other => Err(ApiError::bad(
                "InvalidAction.NotFound",
                format!("Specified api {other} is not found."),
            )),
        }
    }

    fn group_of(&self, p: &Params<'_>) -> Result<usize, ApiError> {
        let id = p.req("JobGroupId")?;
        self.group_idx.get(id).copied().ok_or_else(|| {
            ApiError::bad(
                "JobGroupNotExists",
                format!("Job group {id} does not exist."),
            )
        })
    }

    fn group_json(&self, g: usize) -> Value {
        let gr = &self.groups[g];
        let has = |s: Status| gr.jobs.iter().any(|&j| self.jobs[j].status == s);
        let status = if gr.cancelled {
            "Cancelled"
        } else if gr.paused {
            "Paused"
        } else if has(Status::Executing) {
            "Executing"
        } else if !gr.jobs.is_empty() && !has(Status::Scheduling) && !has(Status::Paused) {
            "Completed"
        } else {
            "Scheduling"
        };
        json!({
            "JobGroupId": gr.id,
            "JobGroupName": gr.name,
            "ScriptId": gr.script_id,
            "Status": status,
            "CreationTime": gr.creation_ms,
            "Strategy": gr.strategy,
        })
    }

    pub(super) fn create_group(
        &mut self,
        p: Params<'_>,
        wall: DateTime<Utc>,
    ) -> Result<Payload, ApiError> {
        let name = p.req("JobGroupName")?.to_owned();
        let script_id = p.req("ScriptId")?.to_owned();
        let (strategy, windows) = match p.get("StrategyJson").filter(|s| !s.trim().is_empty()) {
            None => (Value::Null, Vec::new()),
            Some(s) => parse_strategy(s)?,
        };
        let g = self.groups.len();
        let id = next_id("jg");
        self.group_idx.insert(id.clone(), g);
        self.groups.push(Group {
            id,
            name,
            script_id,
            creation_ms: wall.timestamp_millis(),
            strategy,
            windows,
            paused: false,
            cancelled: false,
            jobs: Vec::new(),
            queue: VecDeque::new(),
            refs: HashSet::new(),
        });
        Ok(payload([("JobGroup", self.group_json(g))]))
    }

    pub(super) fn assign(&mut self, p: Params<'_>) -> Result<Payload, ApiError> {
        let g = self.group_of(&p)?;
        let items = p.indexed("JobsJson")?;
        if items.is_empty() || items.len() > 99 {
            return Err(ApiError::invalid(format!(
                "JobsJson.N: between 1 and 99 jobs per request, got {}.",
                items.len()
            )));
        }
        let mut parsed = Vec::with_capacity(items.len());
        for (n, s) in items {
            let job: JobIn = serde_json::from_str(s)
                .map_err(|e| ApiError::invalid(format!("JobsJson.{n} is not valid: {e}")))?;
            if job.contacts.is_empty() || job.contacts.iter().any(|c| c.phone_number.is_empty()) {
                return Err(ApiError::invalid(format!(
                    "JobsJson.{n}: contacts with a phoneNumber are required."
                )));
            }
            parsed.push(job);
        }
        let status = if self.groups[g].cancelled {
            Status::Cancelled
        } else if self.groups[g].paused {
            Status::Paused
        } else {
            Status::Scheduling
        };
        let mut ids = Vec::with_capacity(parsed.len());
        for job in parsed {
            let j = self.jobs.len();
            let id = next_id("job");
            let group = &mut self.groups[g];
            if let Some(r) = job.contacts[0]
                .reference_id
                .as_ref()
                .filter(|r| !r.is_empty())
                && !group.refs.insert(r.clone())
            {
                self.duplicates += 1;
            }
            group.jobs.push(j);
            if status == Status::Scheduling {
                group.queue.push_back(j);
            }
            self.job_idx.insert(id.clone(), j);
            self.jobs.push(Job {
                id: id.clone(),
                group: g,
                status,
                contacts: job.contacts,
                extras: job.extras,
                started: None,
                task: None,
            });
            ids.push(Value::String(id));
        }
        Ok(payload([
            ("JobGroupId", Value::String(self.groups[g].id.clone())),
            ("JobsId", Value::Array(ids)),
        ]))
    }

    fn control(&mut self, action: &str, p: Params<'_>) -> Result<Payload, ApiError> {
        let g = self.group_of(&p)?;
        let listed = p.indexed("JobId")?;
        let all = p.get("All").is_some_and(|v| v.eq_ignore_ascii_case("true")) || listed.is_empty();
        let targets: Vec<usize> = if all {
            self.groups[g].jobs.clone()
        } else {
            listed
                .iter()
                .map(|(_, id)| match self.job_idx.get(*id) {
                    Some(&j) if self.jobs[j].group == g => Ok(j),
                    _ => Err(ApiError::bad(
                        "JobNotExists",
                        format!("Job {id} does not exist in this group."),
                    )),
                })
                .collect::<Result<_, _>>()?
        };
        let (from, to): (&[Status], Status) = match action {
            "SuspendJobs" => (&[Status::Scheduling], Status::Paused),
            "ResumeJobs" => (&[Status::Paused], Status::Scheduling),
            _ => (&[Status::Scheduling, Status::Paused], Status::Cancelled),
        };
        let group = &mut self.groups[g];
        if all {
            match action {
                "SuspendJobs" => group.paused = !group.cancelled,
                "ResumeJobs" => group.paused = false,
                _ => group.cancelled = true,
            }
        }
        if to == Status::Scheduling && group.cancelled {
            return Ok(Payload::new());
        }
        for j in targets {
            if from.contains(&self.jobs[j].status) {
                self.jobs[j].status = to;
            }
        }
        let group = &mut self.groups[g];
        group.queue = group
            .jobs
            .iter()
            .copied()
            .filter(|&j| self.jobs[j].status == Status::Scheduling)
            .collect();
        Ok(Payload::new())
    }

    fn job_json(&self, j: usize) -> Value {
        let job = &self.jobs[j];
        let contact = job.contacts.first().cloned().unwrap_or_default();
        let contact_json = |c: &Contact| {
            json!({
                "ReferenceId": c.reference_id,
                "PhoneNumber": c.phone_number,
                "Name": c.name,
                "Honorific": c.honorific,
            })
        };
        let latest = job.task.as_ref().map(|t| {
            json!({
                "CallTime": t.call_time_ms,
                "CallDuration": t.duration_ms,
                "HasAnswered": t.answered,
                "Status": t.status,
                "TaskEndReason": t.end_reason,
                "TagHits": t.intent.map(|i| vec![json!({"TagGroup": "意向等级", "TagName": i})]).unwrap_or_default(),
                "Contact": contact_json(&contact),
            })
        });
        json!({
            "Id": job.id,
            "JobGroupId": self.groups[job.group].id,
            "Status": job.status.as_str(),
            "ReferenceId": contact.reference_id,
            "JobFailureReason": (job.status == Status::Failed).then_some("CallFailed"),
            "Contacts": job.contacts.iter().map(contact_json).collect::<Vec<_>>(),
            "Extras": job.extras,
            "LatestTask": latest,
        })
    }

    fn query(&self, p: Params<'_>) -> Result<Payload, ApiError> {
        let g = self.group_of(&p)?;
        let page = p.num("PageNumber", 1)?;
        let size = p.num("PageSize", 10)?;
        if page == 0 {
            return Err(ApiError::invalid("PageNumber starts at 1."));
        }
        if size == 0 || size > 100 {
            return Err(ApiError::invalid("PageSize must be between 1 and 100."));
        }
        let filter = p.get("JobStatusFilter").filter(|f| !f.is_empty());
        let matching: Vec<usize> = self.groups[g]
            .jobs
            .iter()
            .copied()
            .filter(|&j| filter.is_none_or(|f| self.jobs[j].status.as_str() == f))
            .collect();
        let list: Vec<Value> = matching
            .iter()
            .skip((page - 1).saturating_mul(size))
            .take(size)
            .map(|&j| self.job_json(j))
            .collect();
        Ok(payload([(
            "Jobs",
            json!({
                "List": list,
                "PageNumber": page,
                "PageSize": size,
                "RowCount": matching.len(),
                "TotalCount": matching.len(),
            }),
        )]))
    }

    fn describe(&self, p: Params<'_>) -> Result<Payload, ApiError> {
        let g = self.group_of(&p)?;
        let mut count: HashMap<&str, u64> = HashMap::new();
        let mut not_answered = 0u64;
        for &j in &self.groups[g].jobs {
            let job = &self.jobs[j];
            *count.entry(job.status.as_str()).or_default() += 1;
            if matches!(job.status, Status::Succeeded | Status::Failed)
                && job.task.as_ref().is_some_and(|t| !t.answered)
            {
                not_answered += 1;
            }
        }
        let c = |s: &str| count.get(s).copied().unwrap_or(0);
        let mut group = self.group_json(g);
        group["Progress"] = json!({
            "TotalJobs": self.groups[g].jobs.len(),
            "TotalCompleted": c("Succeeded") + c("Failed"),
            "Executing": c("Executing"),
            "Scheduling": c("Scheduling"),
            "Paused": c("Paused"),
            "Failed": c("Failed"),
            "Cancelled": c("Cancelled"),
            "TotalNotAnswered": not_answered,
        });
        Ok(payload([("JobGroup", group)]))
    }
}

fn payload<const N: usize>(fields: [(&str, Value); N]) -> Payload {
    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn parse_hm(v: Option<&Value>) -> Result<u32, ApiError> {
    let bad = || ApiError::invalid("StrategyJson: workingTime needs beginTime/endTime as HH:MM.");
    let s = v.and_then(Value::as_str).ok_or_else(bad)?;
    let mut parts = s.split(':').map(|x| x.parse::<u32>().map_err(|_| bad()));
    let h = parts.next().ok_or_else(bad)??;
    let m = parts.next().ok_or_else(bad)??;
    let total = h * 60 + m;
    if m >= 60 || total > 24 * 60 {
        return Err(bad());
    }
    Ok(total)
}

pub(super) fn parse_strategy(s: &str) -> Result<(Value, Vec<(u32, u32)>), ApiError> {
    let v: Value = serde_json::from_str(s)
        .map_err(|e| ApiError::invalid(format!("StrategyJson is not valid JSON: {e}")))?;
    let mut windows = Vec::new();
    match v.get("workingTime") {
        None | Some(Value::Null) => {}
        Some(Value::Array(ws)) => {
            for w in ws {
                windows.push((parse_hm(w.get("beginTime"))?, parse_hm(w.get("endTime"))?));
            }
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "StrategyJson: workingTime must be a list.",
            ));
        }
    }
    Ok((v, windows))
}
