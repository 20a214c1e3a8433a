//! [`Invalid`]: why a value of a request was refused, typed, so that the HTTP adapters word it
//! for people (in the contract's language) and the domain stays free of wording.

/// A refused input value. `field` is the wire name of the field or parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// A list longer than allowed.
    #[error("{field} may list at most {max} values")]
    TooMany {
        /// The field.
        field: &'static str,
        /// Most values.
        max: usize,
    },
    /// Text whose length (in characters, after trimming) is outside `min..=max`.
    #[error("{field} must be {min} to {max} characters")]
    Length {
        /// The field.
        field: &'static str,
        /// Fewest characters.
        min: usize,
        /// Most characters.
        max: usize,
    },
    /// A value that is not one of the allowed ones.
    #[error("{field}: `{value}` is not one of {allowed}")]
    NotOneOf {
        /// The field.
        field: &'static str,
        /// What was given.
        value: String,
        /// What is allowed, listed for people (e.g. `H, A, B, C, N`).
        allowed: &'static str,
    },
    /// A time in none of the accepted forms.
    #[error("{field} must be 'YYYY-MM-DD HH:MM:SS', 'YYYY-MM-DD' or ISO-8601 with offset")]
    Time {
        /// The field.
        field: &'static str,
    },
    /// A range whose start is after its end.
    #[error("{from} must not be after {to}")]
    Reversed {
        /// The start's field.
        from: &'static str,
        /// The end's field.
        to: &'static str,
    },
    /// A number below its minimum.
    #[error("{field} must be at least {min}")]
    TooSmall {
        /// The field.
        field: &'static str,
        /// The smallest allowed.
        min: i64,
    },
    /// A username that breaks the rule: 3 to 64 letters, digits, `.`, `_`, `-` or `@`.
    #[error("username must be 3 to 64 characters of letters, digits, '.', '_', '-' or '@'")]
    Username,
    /// More rows than one request may carry.
    #[error("at most {max} rows per request")]
    TooManyRows {
        /// Most rows.
        max: usize,
    },
}
