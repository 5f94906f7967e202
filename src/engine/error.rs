//! The error of an upload: one type with a stable code, turned into a JS
//! `UploadError` once, at the boundary (`api.rs`).

#[allow(unused_imports)]
use crate::prelude::*;

use core::fmt;

/// Stable error codes, the `code` of the JS `UploadError`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// An option or argument is invalid; `field` names it.
    InvalidOptions,
    /// The file is larger than S3 allows (5 TiB).
    FileTooLarge,
    /// The application's backend answered an error or a malformed reply.
    BackendError,
    /// S3 refused a part PUT (a 4xx other than an expiry), or kept failing.
    S3Error,
    /// A part PUT succeeded but its `ETag` header could not be read: the bucket's
    /// CORS configuration must expose `ETag`.
    EtagNotExposed,
    /// The network failed, and kept failing through every retry.
    NetworkError,
    /// The store found other bytes than the client sent (its checksum of a
    /// part or of the whole object differs from the client's): nothing was
    /// stored as the object.
    IntegrityError,
    /// The file could not be read (moved, deleted or changed on disk).
    FileReadError,
    /// The upload was aborted by the application.
    Aborted,
}

impl ErrorCode {
    /// The code as a string, as JS sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidOptions => "InvalidOptions",
            Self::FileTooLarge => "FileTooLarge",
            Self::BackendError => "BackendError",
            Self::S3Error => "S3Error",
            Self::EtagNotExposed => "EtagNotExposed",
            Self::NetworkError => "NetworkError",
            Self::IntegrityError => "IntegrityError",
            Self::FileReadError => "FileReadError",
            Self::Aborted => "Aborted",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an upload failed: a code, a message that names the problem and the fix,
/// and what is known of where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadError {
    /// Stable code.
    pub code: ErrorCode,
    /// Human-readable: what went wrong and what to do.
    pub message: String,
    /// HTTP status, when an HTTP reply caused the error.
    pub status: Option<u16>,
    /// Part number, when one part caused the error.
    pub part_number: Option<u16>,
    /// The option or reply field at fault, for InvalidOptions and BackendError.
    pub field: Option<String>,
    /// The underlying cause (a body excerpt, a lower-level message).
    pub cause: Option<String>,
}

impl UploadError {
    /// An error with a code and message only.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), status: None, part_number: None, field: None, cause: None }
    }

    /// InvalidOptions naming `field`.
    pub fn invalid_option(field: &str, message: impl Into<String>) -> Self {
        Self { field: Some(field.to_owned()), ..Self::new(ErrorCode::InvalidOptions, message) }
    }

    /// FileTooLarge for a file of `size` bytes.
    pub fn too_large(size: u64) -> Self {
        Self::new(
            ErrorCode::FileTooLarge,
            cat!(
                "the file is ",
                size,
                " bytes; S3 stores objects of at most 5 TiB (5497558138880 bytes): split the file or compress it first"
            ),
        )
    }

    /// Aborted by the application.
    pub fn aborted() -> Self {
        Self::new(ErrorCode::Aborted, "the upload was aborted")
    }

    /// A backend's reply that came but cannot be read: a 2xx whose body is
    /// not the JSON expected (it keeps its 2xx status). Not one whose body is
    /// an error (`field` is `error`, the reply's field that says so): the
    /// backend answered, and refused.
    pub fn is_unreadable_reply(&self) -> bool {
        self.code == ErrorCode::BackendError
            && self.status.is_some_and(|s| (200..300).contains(&s))
            && self.field.as_deref() != Some("error")
    }

    /// A backend call's failure that does not say whether the call did its
    /// work: a reply that cannot be read, or a hook's error without a status.
    pub fn is_unanswered(&self) -> bool {
        self.code == ErrorCode::BackendError && (self.status.is_none() || self.is_unreadable_reply())
    }

    /// Sets the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets the part number.
    pub fn with_part(mut self, part: u16) -> Self {
        self.part_number = Some(part);
        self
    }

    /// Sets the cause.
    pub fn with_cause(mut self, cause: impl Into<String>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    /// Sets the field.
    pub fn with_field(mut self, field: &str) -> Self {
        self.field = Some(field.to_owned());
        self
    }
}

impl fmt::Display for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl core::error::Error for UploadError {}
