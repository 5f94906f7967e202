//! The retry policy: data, and one pure function that decides.
//!
//! Retried: network errors, timeouts and stalls, 408, 429 (after `Retry-After`),
//! 500, 502, 503, 504, S3's `400 RequestTimeout`, and a 403 whose body says the
//! request has expired (with a fresh URL). Any other 4xx fails at once.
//! Delays come from a list (`retryDelays`), with "equal jitter": a delay `d`
//! becomes a uniform pick in `[d/2, d]`, so parts failing together do not retry
//! together. Every retry of a part uses a freshly presigned URL: a store may
//! answer 403 before reading a large body, which a browser reports as a network
//! error, so an expired URL cannot always be told from a dropped connection.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::engine::error::{ErrorCode, UploadError};

/// Longest `Retry-After` honoured; a longer one is cut to this.
pub const MAX_RETRY_AFTER_MS: u64 = 10 * 60 * 1000;

/// The default `retryDelays`, in milliseconds: up to five retries per part.
pub const DEFAULT_RETRY_DELAYS_MS: [u64; 5] = [0, 1_000, 3_000, 5_000, 10_000];

/// How a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No HTTP response: connection refused or reset, DNS, CORS refusal, offline.
    Network(String),
    /// No answer (or no upload progress) within the time limit.
    Timeout,
    /// An HTTP response that is not a success.
    Status {
        /// HTTP status.
        status: u16,
        /// The start of the response body (S3 sends an XML error document).
        body: String,
        /// `Retry-After`, in milliseconds, when the response had one.
        retry_after_ms: Option<u64>,
    },
}

impl Failure {
    /// True for a 403 whose body says the presigned URL has expired.
    pub fn is_expired_url(&self) -> bool {
        matches!(self, Self::Status { status: 403, body, .. } if crate::find_str(&body.to_ascii_lowercase(), "expired").is_some())
    }

    /// True for a 403 `SignatureDoesNotMatch`: the store does not accept the
    /// URL's signature for the request it got.
    pub fn is_bad_signature(&self) -> bool {
        matches!(self, Self::Status { status: 403, body, .. } if crate::find_str(body, "SignatureDoesNotMatch").is_some())
    }

    /// Whether the failure says the link or the store is overloaded (a
    /// throttle, a stall, a lost connection): what shrinks the concurrency window.
    pub fn is_congestion(&self) -> bool {
        match self {
            Self::Network(_) | Self::Timeout => true,
            Self::Status { status, .. } => matches!(status, 429 | 500 | 502 | 503 | 504),
        }
    }

    /// Whether the request got no answer of its own: a lost connection, a
    /// timeout, or S3's 400 RequestTimeout for a body that stopped arriving
    /// (which S3 sends after 20 s of nothing).
    pub fn is_unanswered(&self) -> bool {
        match self {
            Self::Network(_) | Self::Timeout => true,
            Self::Status { status, body, .. } => *status == 400 && crate::find_str(body, "RequestTimeout").is_some(),
        }
    }

    /// A reply that came but is not the call's (not JSON, the wrong shape):
    /// its words say what it must be (`; it must answer JSON like …`).
    fn is_unusable_reply(&self) -> bool {
        matches!(self, Self::Network(msg) if crate::find_str(msg, "; it must").is_some())
    }

    /// Whether the failure is worth another attempt.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Status { status, body, .. } if !self.is_unanswered() => {
                matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
                    // The store's checksum of the body differs from ours: the
                    // bytes changed on the way; sent again, they may not.
                    || (*status == 400 && is_digest_mismatch(body))
                    || self.is_expired_url()
            }
            // No answer of its own (a lost connection, a timeout, S3's RequestTimeout).
            _ => true,
        }
    }

    /// The error reported when this failure is final; `what` names the
    /// request: a PUT (its name says `PUT`) or a backend call.
    pub fn into_error(self, what: &str) -> UploadError {
        let unusable = self.is_unusable_reply();
        match self {
            Self::Network(msg) => {
                // A reply that came but is not the call's: no network hint.
                let hint = if unusable {
                    ")"
                } else {
                    "); check the connection and that the URL's CORS allows this origin"
                };
                UploadError::new(ErrorCode::NetworkError, cat!(what, " failed: no usable answer (", msg, hint))
                    .with_cause(msg)
            }
            Self::Timeout if crate::find_str(what, "PUT").is_some() => UploadError::new(
                ErrorCode::NetworkError,
                cat!(what, " timed out with no progress; the connection is too slow or stalled: retry later, or raise partTimeout"),
            ),
            // A backend call: partTimeout does not bound it.
            Self::Timeout => UploadError::new(
                ErrorCode::NetworkError,
                cat!(what, " got no answer in time (a backend call waits 30 s, complete 330 s): check that the backend is up and answers this page, then retry"),
            ),
            Self::Status { status, body, .. } if is_digest_mismatch(&body) => UploadError::new(
                ErrorCode::IntegrityError,
                cat!(what, " was refused with HTTP ", status, ": the store's checksum of the bytes it received differs from the client's, on every try (the file changed on disk during the upload, or something on the way alters the bytes): nothing corrupt was stored; check the file and the network path, then upload again"),
            )
            .with_status(status)
            .with_cause(body),
            Self::Status { status, body, .. } => {
                let code = s3_error_code(&body);
                let detail = code.map(|c| cat!(" (", c, ")")).unwrap_or_default();
                let hint = if crate::find_str(&body, "Checksum Type mismatch").is_some() { CHECKSUM_TYPE } else { "" };
                UploadError::new(ErrorCode::S3Error, cat!(what, " was refused with HTTP ", status, detail, hint))
                    .with_status(status)
                    .with_cause(body)
            }
        }
    }
}

/// What S3's "Checksum Type mismatch" (a part whose checksum is of another
/// algorithm than its multipart upload's, or of any when the upload was
/// created without one) means here, and the fix.
const CHECKSUM_TYPE: &str = ": the upload was created without this checksum's algorithm: the backend must create it with init's checksum_algorithm (S3: ChecksumAlgorithm CRC32, ChecksumType FULL_OBJECT), or use checksum: 'none'";

/// S3's answer when a body's checksum (`Content-MD5` or `x-amz-checksum-*`)
/// does not match the bytes received.
pub fn is_digest_mismatch(body: &str) -> bool {
    matches!(s3_error_code(body), Some("BadDigest" | "InvalidDigest" | "XAmzContentChecksumMismatch"))
}

/// The `<Code>` of an S3 XML error body, if there is one.
pub fn s3_error_code(body: &str) -> Option<&str> {
    let start = crate::find_str(body, "<Code>")? + "<Code>".len();
    let end = crate::find_str(body.get(start..)?, "</Code>")? + start;
    body.get(start..end)
}

/// Retry settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before the 1st, 2nd, ... retry of a part, in ms. Its length is the
    /// most retries a part gets in a row without making progress.
    pub delays_ms: Vec<u64>,
    /// Most retries spent over the whole upload, whatever makes progress.
    pub max_total_retries: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { delays_ms: DEFAULT_RETRY_DELAYS_MS.to_vec(), max_total_retries: 50 }
    }
}

/// What to do after a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Try again after this many milliseconds, with a fresh URL.
    Retry {
        /// Wait first.
        after_ms: u64,
    },
    /// Give up: the error to report.
    Fail(UploadError),
}

impl RetryPolicy {
    /// Decides what follows `failure`.
    ///
    /// `attempts` is how many retries this part has had since it last made
    /// progress; `spent` is how many retries the whole upload has had; `jitter`
    /// is a uniform random number in `[0, 1)`.
    pub fn decide(&self, failure: Failure, what: &str, attempts: u32, spent: u32, jitter: f64) -> Decision {
        // A signature the store refuses may come from the URL or a signed
        // header (the part's checksum) altered on the way: one more attempt,
        // with a fresh URL as every retry; a second refusal in a row stands
        // (a backend that signs with the wrong key or clock).
        let resign = attempts == 0 && failure.is_bad_signature();
        if !failure.is_transient() && !resign {
            return Decision::Fail(failure.into_error(what));
        }
        let Some(&base) = self.delays_ms.get(attempts as usize) else {
            let tries = attempts + 1;
            // More tries would not help a reply that is not the call's.
            let more = if failure.is_unusable_reply() { "" } else { ": raise retryDelays for more" };
            let mut err = failure.into_error(what);
            err.message = cat!(err.message, " (gave up after ", tries, " attempts", more, ")");
            return Decision::Fail(err);
        };
        if spent >= self.max_total_retries {
            let mut err = failure.into_error(what);
            err.message = cat!(err.message, " (the upload has spent all ", self.max_total_retries, " retries it may)");
            return Decision::Fail(err);
        }
        let jitter = jitter.clamp(0.0, 1.0);
        let mut after_ms = base / 2 + ((base - base / 2) as f64 * jitter) as u64;
        if let Failure::Status { retry_after_ms: Some(ra), .. } = failure {
            after_ms = after_ms.max(ra.min(MAX_RETRY_AFTER_MS));
        }
        Decision::Retry { after_ms }
    }
}

/// Parses a `Retry-After` header: delay-seconds, or an HTTP date relative to `now_ms`
/// (milliseconds since the Unix epoch), read by `date_ms` (in the browser,
/// `Date.parse`: no date parser compiled into the module). Unparseable
/// values give `None`.
pub fn parse_retry_after(value: &str, now_ms: u64, date_ms: impl Fn(&str) -> Option<u64>) -> Option<u64> {
    let v = value.trim_ascii();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs.saturating_mul(1000));
    }
    Some(date_ms(v)?.saturating_sub(now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(s: u16, body: &str) -> Failure {
        Failure::Status { status: s, body: body.into(), retry_after_ms: None }
    }

    #[test]
    fn which_failures_are_retried() {
        let expired = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>";
        let cases = [
            (Failure::Network("reset".into()), true),
            (Failure::Timeout, true),
            (status(408, ""), true),
            (status(429, ""), true),
            (status(500, ""), true),
            (status(502, ""), true),
            (status(503, ""), true),
            (status(504, ""), true),
            (status(400, "<Error><Code>RequestTimeout</Code></Error>"), true),
            (status(403, expired), true),
            (status(400, "<Error><Code>InvalidArgument</Code></Error>"), false),
            (status(404, "<Error><Code>NoSuchUpload</Code></Error>"), false),
            (status(413, ""), false),
            (status(501, ""), false),
        ];
        let policy = RetryPolicy::default();
        for (failure, retried) in cases {
            let d = policy.decide(failure.clone(), "part 1", 0, 0, 0.5);
            assert_eq!(matches!(d, Decision::Retry { .. }), retried, "{failure:?}");
        }
        // A refused signature: once (the URL or a signed header may have been
        // altered on the way), not twice in a row.
        let bad = status(403, "<Error><Code>SignatureDoesNotMatch</Code></Error>");
        assert!(matches!(policy.decide(bad.clone(), "part 1", 0, 0, 0.5), Decision::Retry { .. }));
        assert!(matches!(policy.decide(bad, "part 1", 1, 0, 0.5), Decision::Fail(_)));
    }

    #[test]
    fn delays_follow_the_list_with_equal_jitter() {
        let policy = RetryPolicy { delays_ms: vec![0, 1000, 3000], max_total_retries: 100 };
        let f = || Failure::Network("x".into());
        for (attempt, lo, hi) in [(0, 0, 0), (1, 500, 1000), (2, 1500, 3000)] {
            for j in [0.0, 0.3, 0.999] {
                let Decision::Retry { after_ms } = policy.decide(f(), "p", attempt, 0, j) else { panic!("retry") };
                assert!((lo..=hi).contains(&after_ms), "attempt {attempt} jitter {j}: {after_ms}");
            }
        }
        let Decision::Fail(e) = policy.decide(f(), "part 3", 3, 0, 0.0) else { panic!("fails after the list") };
        assert_eq!(e.code, ErrorCode::NetworkError);
        assert!(e.message.contains("gave up after 4 attempts"), "{e}");
        assert!(e.message.contains("check the connection and that the URL's CORS allows this origin"), "{e}");
    }

    /// A reply that came but is not the call's (not JSON, the wrong shape)
    /// on every try: its own words and fix, not the network's hint.
    #[test]
    fn a_reply_that_cannot_be_used_is_not_taken_for_the_network() {
        let words = r#"the backend's reply to url is not JSON (x): "<!doctype html>"; it must answer JSON like {"url": "https://..."}"#;
        let e = Failure::Network(words.into()).into_error("getting the upload URL (url)");
        assert_eq!(e.message, format!("getting the upload URL (url) failed: no usable answer ({words})"));
        assert!(!e.message.contains("CORS"), "{e}");
        let e = Failure::Network("the PUT got no response".into()).into_error("part 2 (PUT)");
        assert!(e.message.ends_with("no usable answer (the PUT got no response); check the connection and that the URL's CORS allows this origin"), "{e}");
        // When the tries run out: more of them would not help such a reply.
        let policy = RetryPolicy { delays_ms: vec![0; 3], max_total_retries: 50 };
        let Decision::Fail(e) = policy.decide(Failure::Network(words.into()), "url", 3, 0, 0.0) else {
            panic!("fails")
        };
        assert!(e.message.ends_with("(gave up after 4 attempts)"), "{e}");
        let Decision::Fail(e) = policy.decide(Failure::Network("reset".into()), "url", 3, 0, 0.0) else {
            panic!("fails")
        };
        assert!(e.message.ends_with("(gave up after 4 attempts: raise retryDelays for more)"), "{e}");
    }

    #[test]
    fn total_budget_bounds_retries() {
        let policy = RetryPolicy { delays_ms: vec![0; 5], max_total_retries: 3 };
        assert!(matches!(policy.decide(Failure::Timeout, "p", 0, 2, 0.0), Decision::Retry { .. }));
        let Decision::Fail(e) = policy.decide(Failure::Timeout, "p", 0, 3, 0.0) else { panic!("budget spent") };
        assert!(e.message.contains("all 3 retries"), "{e}");
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let policy = RetryPolicy::default();
        let f = |ra| Failure::Status { status: 429, body: String::new(), retry_after_ms: Some(ra) };
        assert_eq!(policy.decide(f(7_000), "p", 0, 0, 0.0), Decision::Retry { after_ms: 7_000 });
        assert_eq!(policy.decide(f(u64::MAX), "p", 0, 0, 0.0), Decision::Retry { after_ms: MAX_RETRY_AFTER_MS });
        // a Retry-After shorter than the policy's delay does not shorten it
        assert_eq!(policy.decide(f(1), "p", 1, 0, 1.0), Decision::Retry { after_ms: 1_000 });
    }

    #[test]
    fn fatal_status_names_the_s3_code() {
        let Decision::Fail(e) = RetryPolicy::default().decide(
            status(403, "<Error><Code>SignatureDoesNotMatch</Code></Error>"),
            "part 2",
            1,
            0,
            0.0,
        ) else {
            panic!("fails on the second refusal")
        };
        assert_eq!((e.code, e.status), (ErrorCode::S3Error, Some(403)));
        assert!(e.message.contains("SignatureDoesNotMatch") && e.message.contains("part 2"), "{e}");
        // A checksum of another algorithm than the upload's: the fix is named.
        let body = "<Error><Code>InvalidRequest</Code><Message>Checksum Type mismatch occurred, expected checksum Type: null, actual checksum Type: crc32</Message></Error>";
        let e = status(400, body).into_error("part 1 PUT");
        assert_eq!(e.code, ErrorCode::S3Error);
        assert!(
            e.message.contains("(InvalidRequest): the upload was created without this checksum's algorithm"),
            "{e}"
        );
        assert!(e.message.contains("with init's checksum_algorithm"), "{e}");
        assert!(
            !status(400, "<Error><Code>InvalidRequest</Code></Error>").into_error("x").message.contains("checksum")
        );
    }

    #[test]
    fn a_timeout_names_the_fix_of_what_timed_out() {
        // A PUT is bounded by partTimeout; a backend call is not.
        let put = Failure::Timeout.into_error("the PUT of part 3");
        assert!(put.message.contains("raise partTimeout"), "{put}");
        for call in ["completing the multipart upload", "getting the URL of part 2 (part-url)", "listing the parts"] {
            let e = Failure::Timeout.into_error(call);
            assert_eq!(e.code, ErrorCode::NetworkError);
            assert!(
                !e.message.contains("partTimeout")
                    && e.message.contains("complete 330 s")
                    && e.message.contains("backend is up"),
                "{e}"
            );
        }
    }

    #[test]
    fn retry_after_header_forms() {
        let http_date = |d: &str| {
            let at = httpdate::parse_http_date(d).ok()?;
            Some(at.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as u64)
        };
        assert_eq!(parse_retry_after("3", 0, http_date), Some(3_000));
        assert_eq!(parse_retry_after(" 0 ", 0, http_date), Some(0));
        let now = 1_445_412_480_000; // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", now, http_date), Some(5_000));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now, http_date), Some(0));
        assert_eq!(parse_retry_after("soon", now, http_date), None);
    }
}
