//! How long a presigned URL lives, read from the URL itself.
//!
//! SigV4 query signing puts the lifetime in `X-Amz-Expires` (seconds). The
//! expiry is counted from when the URL arrived, on the browser's own clock, so
//! a skew between the backend's clock and the browser's does not matter.

/// Lifetime of a presigned URL in milliseconds, from its `X-Amz-Expires`
/// parameter; `None` when the URL does not say (then it is never re-signed early).
pub fn lifetime_ms(url: &str) -> Option<u64> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.eq_ignore_ascii_case("X-Amz-Expires").then(|| v.parse::<u64>().ok()).flatten().map(|s| s.saturating_mul(1000))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_x_amz_expires() {
        let cases = [
            (
                "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600&X-Amz-Signature=ab",
                Some(3_600_000),
            ),
            ("http://127.0.0.1:9000/b/k?x-amz-expires=5", Some(5_000)),
            ("http://h/k?X-Amz-Expires=5#frag", Some(5_000)),
            ("http://h/k?X-Amz-Expires=soon", None),
            ("http://h/k", None),
            ("http://h/k?Expires=1700000000", None),
        ];
        for (url, want) in cases {
            assert_eq!(lifetime_ms(url), want, "{url}");
        }
    }
}
