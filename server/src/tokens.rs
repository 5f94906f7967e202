//! Init's client tokens. A client sends the same `client_token` with every
//! init of one upload; when an init's reply is lost, cut off or garbled on
//! its way back, the init asked again gets the multipart upload the first one
//! created, instead of a second one that nobody would complete or abort.
//!
//! A token is bound to the request it came with (key, content type, checksum
//! algorithm): the same token with another request is refused, so a token
//! cannot be used to learn another key's upload id. Tokens are kept for
//! [`TTL`], at most [`CAPACITY`] of them (the oldest go first): forgetting
//! one only makes its init create a new upload, as without tokens.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use crate::error::ApiError;

/// How long a token is kept: far longer than a client retries an init.
pub const TTL: Duration = Duration::from_secs(3600);
/// The most tokens kept at once.
pub const CAPACITY: usize = 10_000;

/// What a token is bound to: key, content type, checksum algorithm.
pub type Request = (String, String, Option<&'static str>);

struct Entry {
    request: Request,
    created: Instant,
    upload_id: Arc<OnceCell<String>>,
}

/// The tokens seen, shared by every route.
#[derive(Default)]
pub struct InitTokens {
    map: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for InitTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitTokens").finish_non_exhaustive()
    }
}

/// Checks a token's form: 16 to 64 ASCII letters, digits, `-` or `_`.
pub fn validate(token: &str) -> Result<(), ApiError> {
    let ok =
        (16..=64).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "InvalidClientToken",
            "client_token must be 16 to 64 letters, digits, '-' or '_' (the client sends 32 random hex digits), the same for every init of one upload",
        ))
    }
}

impl InitTokens {
    /// The upload id cell of `token` for `request`: empty the first time
    /// (the caller creates the upload and fills it), the upload's id after
    /// that; a caller that comes while the first is still creating waits for
    /// it. The same token with another request is refused.
    pub fn cell(&self, token: &str, request: Request) -> Result<Arc<OnceCell<String>>, ApiError> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if let Some(e) = map.get(token).filter(|e| now.duration_since(e.created) < TTL) {
            if e.request != request {
                return Err(ApiError::new(
                    axum::http::StatusCode::CONFLICT,
                    "ClientTokenReused",
                    "client_token was sent with another init (another key, content type or checksum algorithm): send a fresh token for each upload",
                ));
            }
            return Ok(e.upload_id.clone());
        }
        if map.len() >= CAPACITY {
            map.retain(|_, e| now.duration_since(e.created) < TTL);
            if map.len() >= CAPACITY
                && let Some(oldest) = map.iter().min_by_key(|(_, e)| e.created).map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        let cell = Arc::new(OnceCell::new());
        map.insert(token.to_owned(), Entry { request, created: now, upload_id: cell.clone() });
        Ok(cell)
    }

    /// How many tokens are kept.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(key: &str) -> Request {
        (key.into(), "application/zip".into(), Some("CRC32"))
    }

    #[test]
    fn a_token_is_bound_to_its_request() {
        let t = InitTokens::default();
        let a = t.cell("0123456789abcdef", req("a")).expect("first");
        a.set("up-1".into()).expect("empty");
        let again = t.cell("0123456789abcdef", req("a")).expect("same request");
        assert_eq!(again.get().map(String::as_str), Some("up-1"));
        let e = t.cell("0123456789abcdef", req("b")).expect_err("another key");
        assert_eq!(e.code, "ClientTokenReused");
        let other_type = ("a".to_owned(), "text/plain".to_owned(), Some("CRC32"));
        assert!(t.cell("0123456789abcdef", other_type).is_err());
        assert!(t.cell("fedcba9876543210", req("a")).expect("another token").get().is_none());
    }

    #[test]
    fn at_most_capacity_tokens_are_kept() {
        let t = InitTokens::default();
        for i in 0..CAPACITY + 5 {
            t.cell(&format!("token-{i:012}"), req("a")).expect("kept");
        }
        assert_eq!(t.len(), CAPACITY);
        // The oldest went first; the newest is still there.
        let newest = format!("token-{:012}", CAPACITY + 4);
        t.cell(&newest, req("a")).expect("kept").set("x".into()).expect("empty");
        assert_eq!(t.cell(&newest, req("a")).expect("kept").get().map(String::as_str), Some("x"));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for bad in [
            "",
            "short",
            "0123456789abcde",
            &"a".repeat(65),
            "0123456789abcdef\n",
            "0123456789abcdef/x",
            "0123456789abcdéf",
        ] {
            assert_eq!(validate(bad).expect_err(bad).code, "InvalidClientToken", "{bad:?}");
        }
        validate("0123456789abcdef").expect("16 hex digits");
        validate(&"A-_9".repeat(16)).expect("64 characters");
    }
}
