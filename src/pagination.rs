//! Offset pagination shared by list endpoints: `?limit=&offset=` with bounds checked at the edge.

use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;

/// Items per page when the client does not say.
pub const DEFAULT_LIMIT: i64 = 50;
/// Most items one page may hold.
pub const MAX_LIMIT: i64 = 200;

/// Raw query parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Items to skip, 0 or more (default 0).
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Items per page.
    pub limit: i64,
    /// Items skipped.
    pub offset: i64,
}

impl Page {
    /// Applies defaults and refuses out-of-range values instead of clamping them silently.
    pub fn parse(q: &PageQuery) -> Result<Self, ApiError> {
        let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
        let offset = q.offset.unwrap_or(0);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::validation(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        if offset < 0 {
            return Err(ApiError::validation("offset must not be negative"));
        }
        Ok(Self { limit, offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(
            Page::parse(&PageQuery::default()).unwrap(),
            Page {
                limit: 50,
                offset: 0
            }
        );
        let q = |limit, offset| PageQuery { limit, offset };
        assert!(Page::parse(&q(Some(0), None)).is_err());
        assert!(Page::parse(&q(Some(201), None)).is_err());
        assert!(Page::parse(&q(None, Some(-1))).is_err());
        assert_eq!(Page::parse(&q(Some(200), Some(7))).unwrap().offset, 7);
    }
}
