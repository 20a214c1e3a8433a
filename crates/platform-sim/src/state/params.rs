//! The parameters of a request, as the wire protocol flattens them (`Name.N` lists).

use super::ApiError;

/// The request parameters (the last one wins when a name repeats).
#[derive(Clone, Copy)]
pub(super) struct Params<'a>(pub(super) &'a [(String, String)]);

impl<'a> Params<'a> {
    pub(super) fn get(&self, k: &str) -> Option<&'a str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
    pub(super) fn req(&self, k: &str) -> Result<&'a str, ApiError> {
        self.get(k).filter(|v| !v.is_empty()).ok_or_else(|| {
            ApiError::bad(
                "MissingParameter",
                format!("{k} is mandatory for this action."),
            )
        })
    }
    pub(super) fn num(&self, k: &str, default: usize) -> Result<usize, ApiError> {
        match self.get(k).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| ApiError::invalid(format!("{k} must be a number."))),
        }
    }
    /// `Prefix.N` parameters sorted by N.
    pub(super) fn indexed(&self, prefix: &str) -> Result<Vec<(u32, &'a str)>, ApiError> {
        let mut out = Vec::new();
        for (k, v) in self.0 {
            if let Some(n) = k.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) {
                let n: u32 = n
                    .parse()
                    .map_err(|_| ApiError::invalid(format!("{k}: the suffix must be a number.")))?;
                out.push((n, v.as_str()));
            }
        }
        out.sort_by_key(|(n, _)| *n);
        out.dedup_by_key(|(n, _)| *n);
        Ok(out)
    }
}
