//! Paging with the contract's bounds.

use serde::{Deserialize, Serialize};

/// Largest page size the contract allows.
pub const MAX_PAGE_SIZE: u32 = 100;
/// Page size when the request gives none.
pub const DEFAULT_PAGE_SIZE: u32 = 20;

/// A validated page request: `page` from 1, `page_size` 1..=100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u32,
    page_size: u32,
}

/// Why a page request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// `page` was 0 or absurdly large.
    #[error("page must be between 1 and 1000000")]
    Page,
    /// `page_size` outside 1..=100.
    #[error("page_size must be between 1 and 100")]
    PageSize,
}

impl PageRequest {
    /// Validate optional `page` / `page_size` (defaults 1 and 20).
    pub fn new(page: Option<i64>, page_size: Option<i64>) -> Result<Self, PageError> {
        let page = page.unwrap_or(1);
        let page_size = page_size.unwrap_or(i64::from(DEFAULT_PAGE_SIZE));
        if !(1..=1_000_000).contains(&page) {
            return Err(PageError::Page);
        }
        if !(1..=i64::from(MAX_PAGE_SIZE)).contains(&page_size) {
            return Err(PageError::PageSize);
        }
        Ok(Self {
            page: page as u32,
            page_size: page_size as u32,
        })
    }

    /// 1-based page number.
    pub fn page(&self) -> u32 {
        self.page
    }
    /// Items per page.
    pub fn page_size(&self) -> u32 {
        self.page_size
    }
    /// SQL offset of the first item.
    pub fn offset(&self) -> i64 {
        (i64::from(self.page) - 1) * i64::from(self.page_size)
    }
    /// SQL limit.
    pub fn limit(&self) -> i64 {
        i64::from(self.page_size)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

/// One page of items with the totals the contract reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    /// Items of this page (empty past the end).
    pub items: Vec<T>,
    /// Paging totals.
    pub pagination: Pagination,
}

/// `data.pagination` of a paged response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pagination {
    /// 1-based page number.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, example = 1))]
    pub page: u32,
    /// Items per page (1..=100).
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100, example = 20))]
    pub page_size: u32,
    /// Items over all pages.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, example = 42))]
    pub total: i64,
    /// Number of pages (0 when there is nothing).
    #[cfg_attr(feature = "openapi", schema(minimum = 0, example = 3))]
    pub total_pages: i64,
}

impl<T> Page<T> {
    /// Assemble a page from its items, the request and the total count.
    pub fn new(items: Vec<T>, req: PageRequest, total: i64) -> Self {
        let size = i64::from(req.page_size());
        Self {
            items,
            pagination: Pagination {
                page: req.page(),
                page_size: req.page_size(),
                total,
                total_pages: (total + size - 1) / size,
            },
        }
    }

    /// Convert the items, keeping the totals.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            pagination: self.pagination,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_bounds() {
        assert!(PageRequest::new(Some(0), None).is_err());
        assert!(PageRequest::new(None, Some(0)).is_err());
        assert!(PageRequest::new(None, Some(101)).is_err());
        let p = PageRequest::new(Some(3), Some(10)).unwrap();
        assert_eq!(p.offset(), 20);
        let page: Page<u8> = Page::new(vec![], p, 21);
        assert_eq!(page.pagination.total_pages, 3);
        let empty: Page<u8> = Page::new(vec![], p, 0);
        assert_eq!(empty.pagination.total_pages, 0);
    }
}
