//! [`RepoError`]: a storage failure, as every repository port reports it.

/// A storage failure, as every repository port reports it.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The database cannot be used right now (connection refused or lost, pool timeout, or a
    /// transaction that lost a race and was rolled back): nothing changed; the caller answers 503
    /// and may try again.
    #[error("database unavailable")]
    Unavailable,
    /// Anything else: a bug or an unexpected database state; logged, answered 500.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}
