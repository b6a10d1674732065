//! Errors a handler returns to its caller: a gRPC code, a message, and optionally
//! an explicit HTTP status.

use std::fmt;

/// gRPC status codes (the `google.rpc.Code` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Code {
    /// Not an error.
    Ok = 0,
    /// The operation was cancelled.
    Cancelled = 1,
    /// Unknown error.
    Unknown = 2,
    /// The client sent an invalid argument.
    InvalidArgument = 3,
    /// The deadline expired.
    DeadlineExceeded = 4,
    /// The entity was not found.
    NotFound = 5,
    /// The entity already exists.
    AlreadyExists = 6,
    /// The caller may not do this.
    PermissionDenied = 7,
    /// A resource (quota, capacity) is exhausted.
    ResourceExhausted = 8,
    /// The system is not in the state the operation needs.
    FailedPrecondition = 9,
    /// The operation was aborted (e.g. a concurrency conflict).
    Aborted = 10,
    /// Out of the valid range.
    OutOfRange = 11,
    /// Not implemented.
    Unimplemented = 12,
    /// An internal error.
    Internal = 13,
    /// The service is unavailable; retrying may help.
    Unavailable = 14,
    /// Unrecoverable data loss.
    DataLoss = 15,
    /// The caller is not authenticated.
    Unauthenticated = 16,
}

impl Code {
    /// The code for a numeric value; unknown values map to [`Code::Unknown`].
    pub fn from_i32(value: i32) -> Code {
        use Code::*;
        match value {
            0 => Ok,
            1 => Cancelled,
            3 => InvalidArgument,
            4 => DeadlineExceeded,
            5 => NotFound,
            6 => AlreadyExists,
            7 => PermissionDenied,
            8 => ResourceExhausted,
            9 => FailedPrecondition,
            10 => Aborted,
            11 => OutOfRange,
            12 => Unimplemented,
            13 => Internal,
            14 => Unavailable,
            15 => DataLoss,
            16 => Unauthenticated,
            _ => Unknown,
        }
    }

    /// The HTTP status this code maps to when no explicit one is given (the
    /// mapping of `google.rpc.Code` documented in googleapis).
    pub fn http_status(self) -> u16 {
        use Code::*;
        match self {
            Ok => 200,
            Cancelled => 499,
            InvalidArgument | OutOfRange | FailedPrecondition => 400,
            Unauthenticated => 401,
            PermissionDenied => 403,
            NotFound => 404,
            AlreadyExists | Aborted => 409,
            ResourceExhausted => 429,
            Unimplemented => 501,
            Unavailable => 503,
            DeadlineExceeded => 504,
            Unknown | Internal | DataLoss => 500,
        }
    }

    /// The canonical upper-snake name (`NOT_FOUND`).
    pub fn as_str(self) -> &'static str {
        use Code::*;
        match self {
            Ok => "OK",
            Cancelled => "CANCELLED",
            Unknown => "UNKNOWN",
            InvalidArgument => "INVALID_ARGUMENT",
            DeadlineExceeded => "DEADLINE_EXCEEDED",
            NotFound => "NOT_FOUND",
            AlreadyExists => "ALREADY_EXISTS",
            PermissionDenied => "PERMISSION_DENIED",
            ResourceExhausted => "RESOURCE_EXHAUSTED",
            FailedPrecondition => "FAILED_PRECONDITION",
            Aborted => "ABORTED",
            OutOfRange => "OUT_OF_RANGE",
            Unimplemented => "UNIMPLEMENTED",
            Internal => "INTERNAL",
            Unavailable => "UNAVAILABLE",
            DataLoss => "DATA_LOSS",
            Unauthenticated => "UNAUTHENTICATED",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error returned to the caller: what went wrong, as a gRPC code and a
/// message, with an optional HTTP status that overrides the code's default
/// mapping (e.g. 422).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    code: Code,
    message: String,
    http_status: Option<u16>,
}

macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $code:ident,)*) => {
        $(
            $(#[$doc])*
            pub fn $name(message: impl Into<String>) -> Status {
                Status::new(Code::$code, message)
            }
        )*
    };
}

impl Status {
    /// A status with this code and message.
    pub fn new(code: Code, message: impl Into<String>) -> Status {
        Status {
            code,
            message: message.into(),
            http_status: None,
        }
    }

    constructors! {
        /// `INVALID_ARGUMENT` (HTTP 400).
        invalid_argument => InvalidArgument,
        /// `NOT_FOUND` (HTTP 404).
        not_found => NotFound,
        /// `ALREADY_EXISTS` (HTTP 409).
        already_exists => AlreadyExists,
        /// `FAILED_PRECONDITION` (HTTP 400).
        failed_precondition => FailedPrecondition,
        /// `PERMISSION_DENIED` (HTTP 403).
        permission_denied => PermissionDenied,
        /// `UNAUTHENTICATED` (HTTP 401).
        unauthenticated => Unauthenticated,
        /// `RESOURCE_EXHAUSTED` (HTTP 429).
        resource_exhausted => ResourceExhausted,
        /// `ABORTED` (HTTP 409).
        aborted => Aborted,
        /// `OUT_OF_RANGE` (HTTP 400).
        out_of_range => OutOfRange,
        /// `UNIMPLEMENTED` (HTTP 501).
        unimplemented => Unimplemented,
        /// `UNAVAILABLE` (HTTP 503).
        unavailable => Unavailable,
        /// `INTERNAL` (HTTP 500).
        internal => Internal,
        /// `UNKNOWN` (HTTP 500).
        unknown => Unknown,
    }

    /// Answer HTTP callers with this status instead of the code's default.
    pub fn with_http_status(mut self, status: u16) -> Status {
        self.http_status = Some(status);
        self
    }

    /// The gRPC code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status: the explicit one, else the code's default mapping.
    pub fn http_status(&self) -> u16 {
        self.http_status.unwrap_or_else(|| self.code.http_status())
    }

    /// The explicit HTTP status, if one was set.
    pub fn explicit_http_status(&self) -> Option<u16> {
        self.http_status
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Status {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_http_status_overrides_the_code_mapping() {
        let status = Status::invalid_argument("bad");
        assert_eq!(status.http_status(), 400);
        let status = status.with_http_status(422);
        assert_eq!(status.http_status(), 422);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.to_string(), "INVALID_ARGUMENT: bad");
    }

    #[test]
    fn codes_round_trip_through_numbers() {
        for n in 0..=16 {
            assert_eq!(Code::from_i32(n) as i32, n);
        }
        assert_eq!(Code::from_i32(99), Code::Unknown);
        assert_eq!(Code::NotFound.http_status(), 404);
    }
}
