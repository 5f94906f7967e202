//! The one error type of the backend API, answered as
//! `{"error": {"code": "...", "message": "..."}}` with a 4xx or 5xx status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answered to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} ({status}): {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable, machine-readable code (S3's own code for errors passed on from S3).
    pub code: String,
    /// What went wrong and how to fix it.
    pub message: String,
}

impl ApiError {
    /// A 4xx/5xx with a code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self { status, code: code.to_owned(), message: message.into() }
    }

    /// 400 for a request that does not have the right shape or values.
    pub fn invalid(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 502: S3 could not be reached or sent something unreadable.
    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "S3Unavailable", message)
    }

    /// An S3 error passed on: S3's 4xx stay 4xx with S3's code; S3's 5xx become 502,
    /// so the client can tell "S3 is down" from "the backend is broken".
    pub fn from_s3(s3_status: u16, code: &str, message: &str) -> Self {
        let status = match s3_status {
            400..=499 => StatusCode::from_u16(s3_status).unwrap_or(StatusCode::BAD_REQUEST),
            // A 200 with an <Error> body (CompleteMultipartUpload): judge by the code.
            200 if code.starts_with("Invalid") || code == "EntityTooSmall" || code == "NoSuchUpload" => {
                if code == "NoSuchUpload" { StatusCode::NOT_FOUND } else { StatusCode::BAD_REQUEST }
            }
            _ => StatusCode::BAD_GATEWAY,
        };
        let message =
            if message.is_empty() { format!("S3 answered {code}") } else { format!("S3 answered {code}: {message}") };
        Self::new(status, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}
