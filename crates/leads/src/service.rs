//! Lead use cases, scoped to the caller's organisations.

use std::sync::Arc;

use audit::{Action, Entry};
use chrono_tz::Tz;
use kernel::{Caller, Invalid, OrgId, OrgScope, Page, PageRequest, RepoError};

use crate::{
    FilterError, FilterPreview, ImportCounts, ImportRejection, Lead, LeadFilter, LeadFilterInput,
    LeadInput, LeadRepository, LeadStatistics, MAX_IMPORT_ROWS,
};

/// Why a lead operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LeadError {
    /// Bad filter or request (400).
    #[error(transparent)]
    Invalid(Invalid),
    /// An organisation outside the caller's subtree (404).
    #[error("organisation not found")]
    OrgNotFound,
    /// Storage failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl From<FilterError> for LeadError {
    fn from(e: FilterError) -> Self {
        LeadError::Invalid(e.0)
    }
}

/// Lead use cases.
#[derive(Clone)]
pub struct LeadService {
    repo: Arc<dyn LeadRepository>,
    tz: Tz,
}

impl LeadService {
    /// Wire the service; `tz` reads times given without offset.
    pub fn new(repo: Arc<dyn LeadRepository>, tz: Tz) -> Self {
        Self { repo, tz }
    }

    /// Validate a filter and narrow the scope to its `org_ids` (404 when any is outside).
    pub fn resolve_filter(
        &self,
        scope: &OrgScope,
        input: &LeadFilterInput,
    ) -> Result<(OrgScope, LeadFilter), LeadError> {
        let filter = input.validate(self.tz)?;
        let scope = if filter.org_ids.is_empty() {
            scope.clone()
        } else {
            scope
                .narrow(&filter.org_ids)
                .ok_or(LeadError::OrgNotFound)?
        };
        Ok((scope, filter))
    }

    /// Import rows into `org` (default: the caller's). Each row is either a parsed [`LeadInput`]
    /// or the reason it could not be parsed.
    pub async fn import(
        &self,
        caller: &Caller,
        org: Option<OrgId>,
        rows: Vec<Result<LeadInput, String>>,
    ) -> Result<ImportCounts, LeadError> {
        let scope = &caller.scope;
        if rows.len() > MAX_IMPORT_ROWS {
            return Err(LeadError::Invalid(Invalid::TooManyRows {
                max: MAX_IMPORT_ROWS,
            }));
        }
        let org = org.unwrap_or(scope.root());
        if !scope.contains(org) {
            return Err(LeadError::OrgNotFound);
        }
        let mut good = Vec::with_capacity(rows.len());
        let mut rejected = Vec::new();
        for (index, row) in rows.into_iter().enumerate() {
            match row.and_then(|r| r.validate(self.tz)) {
                Ok(lead) => good.push((index, lead)),
                Err(error) => rejected.push(ImportRejection { index, error }),
            }
        }
        let mut counts = if good.is_empty() {
            ImportCounts::default()
        } else {
            let mut audit = Entry::by(caller, Action::LeadImport)
                .detail("rows", good.len() + rejected.len())
                .detail("rejected", rejected.len());
            audit.org_id = Some(org);
            self.repo.import(org, good, audit).await?
        };
        counts.rejected = rejected;
        Ok(counts)
    }

    /// A page of leads. Unlike task creation and preview, a list shows leads whatever tasks
    /// they are in, unless the filter asks otherwise (`exclude_in_active_tasks` defaults to
    /// false here).
    pub async fn list(
        &self,
        scope: &OrgScope,
        input: &LeadFilterInput,
        page: PageRequest,
    ) -> Result<Page<Lead>, LeadError> {
        let input = LeadFilterInput {
            exclude_in_active_tasks: Some(input.exclude_in_active_tasks.unwrap_or(false)),
            ..input.clone()
        };
        let (scope, filter) = self.resolve_filter(scope, &input)?;
        Ok(self.repo.list(&scope, &filter, page).await?)
    }

    /// Lead statistics of the scope.
    pub async fn statistics(&self, scope: &OrgScope) -> Result<LeadStatistics, LeadError> {
        Ok(self.repo.statistics(scope).await?)
    }

    /// What a task from this filter would get.
    pub async fn preview(
        &self,
        scope: &OrgScope,
        input: &LeadFilterInput,
    ) -> Result<FilterPreview, LeadError> {
        let (scope, filter) = self.resolve_filter(scope, input)?;
        Ok(self.repo.preview(&scope, &filter).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MockLeadRepository;

    #[tokio::test]
    async fn a_list_shows_leads_in_unfinished_tasks_unless_asked_not_to() {
        for (asked, applied) in [(None, false), (Some(true), true), (Some(false), false)] {
            let mut repo = MockLeadRepository::new();
            repo.expect_list()
                .withf(move |_, f, _| f.exclude_in_active_tasks == applied)
                .times(1)
                .returning(|_, _, p| Ok(Page::new(vec![], p, 0)));
            let svc = LeadService::new(Arc::new(repo), chrono_tz::Asia::Shanghai);
            let input = LeadFilterInput {
                exclude_in_active_tasks: asked,
                ..Default::default()
            };
            let scope = OrgScope::new(OrgId(1), []);
            assert!(
                svc.list(&scope, &input, PageRequest::default())
                    .await
                    .is_ok()
            );
        }
    }

    fn caller(scope: OrgScope) -> Caller {
        Caller {
            user_id: kernel::UserId(1),
            username: "ada".into(),
            org_id: scope.root(),
            role: kernel::Role::Operator,
            scope,
            origin: kernel::Origin::default(),
        }
    }

    #[tokio::test]
    async fn import_into_foreign_org_is_not_found_and_touches_nothing() {
        let repo = MockLeadRepository::new(); // no expectations: any call panics
        let svc = LeadService::new(Arc::new(repo), chrono_tz::Asia::Shanghai);
        let caller = caller(OrgScope::new(OrgId(1), [OrgId(2)]));
        let r = svc.import(&caller, Some(OrgId(9)), vec![]).await;
        assert!(matches!(r, Err(LeadError::OrgNotFound)));
    }

    #[tokio::test]
    async fn bad_rows_are_reported_good_rows_kept() {
        let mut repo = MockLeadRepository::new();
        repo.expect_import()
            .withf(|org, rows, audit| {
                *org == OrgId(1)
                    && rows.len() == 1
                    && rows[0].0 == 1
                    && audit.action == Action::LeadImport
                    && audit.details["rejected"] == 2
            })
            .returning(|_, _, _| {
                Ok(ImportCounts {
                    inserted: 1,
                    ..Default::default()
                })
            });
        let svc = LeadService::new(Arc::new(repo), chrono_tz::Asia::Shanghai);
        let rows = vec![
            Ok(LeadInput {
                phone: Some("123".into()),
                customer_name: Some("a".into()),
                ..Default::default()
            }),
            Ok(LeadInput {
                phone: Some("13900000000".into()),
                customer_name: Some("b".into()),
                ..Default::default()
            }),
            Err("unknown field `foo`".into()),
        ];
        let c = svc
            .import(&caller(OrgScope::new(OrgId(1), [])), None, rows)
            .await
            .unwrap();
        assert_eq!(c.inserted, 1);
        assert_eq!(
            c.rejected.iter().map(|r| r.index).collect::<Vec<_>>(),
            vec![0, 2]
        );
    }

    #[tokio::test]
    async fn filter_naming_foreign_org_is_not_found() {
        let svc = LeadService::new(
            Arc::new(MockLeadRepository::new()),
            chrono_tz::Asia::Shanghai,
        );
        let input = LeadFilterInput {
            org_ids: Some(vec![OrgId(5)]),
            ..Default::default()
        };
        let r = svc
            .preview(&OrgScope::new(OrgId(1), [OrgId(2)]), &input)
            .await;
        assert!(matches!(r, Err(LeadError::OrgNotFound)));
    }
}
