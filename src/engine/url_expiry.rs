//! How long a presigned URL has left, read from the URL itself.
//!
//! SigV4 query signing puts the signing time in `X-Amz-Date`
//! (`YYYYMMDDTHHMMSSZ`) and the lifetime in `X-Amz-Expires` (seconds). What is
//! left is `date + expires - now`; but the browser's clock may be off from the
//! backend's, so that figure is trusted only when it is plausible: never more
//! than `expires`, and when it says the URL is already (nearly) dead while the
//! backend just issued it, the browser's clock is taken to be ahead and the
//! full lifetime, counted from arrival, is used instead. A URL that really is
//! stale then fails with a 403 that says so, and is signed again.

#[allow(unused_imports)]
use crate::prelude::*;

/// Milliseconds a presigned URL that arrived at `now_ms` (ms since the Unix
/// epoch, the browser's clock) is good for; `None` when it does not say (then
/// it is never re-signed early).
pub fn remaining_ms(url: &str, now_ms: u64) -> Option<u64> {
    let expires = param(url, "X-Amz-Expires")?.parse::<u64>().ok()?.saturating_mul(1000);
    let Some(signed_at) = param(url, "X-Amz-Date").and_then(parse_amz_date) else { return Some(expires) };
    let left = (signed_at + expires).saturating_sub(now_ms);
    // Less than a tenth left on arrival: more likely a skewed clock than a stale URL.
    if left < expires / 10 { Some(expires) } else { Some(left.min(expires)) }
}

fn param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let query = crate::before(crate::cut(url, b'?')?.1, b'#');
    crate::pieces(query, b'&').find_map(|pair| {
        let (k, v) = crate::cut(pair, b'=')?;
        k.eq_ignore_ascii_case(name).then_some(v)
    })
}

/// `20130524T000000Z` → milliseconds since the Unix epoch.
fn parse_amz_date(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: core::ops::Range<usize>| s.get(r)?.parse::<u64>().ok();
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let days = days_from_civil(y, m, d)?;
    Some(((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: u64, m: u64, d: u64) -> Option<u64> {
    let y = if m <= 2 { y.checked_sub(1)? } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_369_353_600_000; // 2013-05-24T00:00:00Z

    #[test]
    fn amz_dates() {
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
        assert_eq!(parse_amz_date("20130524T000000Z"), Some(T));
        assert_eq!(parse_amz_date("20240229T235959Z"), Some(1_709_251_199_000));
        for bad in ["2013-05-24", "20131324T000000Z", "20130524T250000Z", "20130524 000000Z", ""] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn remaining_lifetime() {
        let url = |date: &str, exp: &str| {
            cat!("https://b.s3.amazonaws.com/k?X-Amz-Date=", date, "&X-Amz-Expires=", exp, "&X-Amz-Signature=ab")
        };
        let cases = [
            // fresh: the full hour
            (url("20130524T000000Z", "3600"), T, Some(3_600_000)),
            // signed 50 minutes ago (a cached URL): 10 minutes left
            (url("20130524T000000Z", "3600"), T + 3_000_000, Some(600_000)),
            // the browser's clock is 20 s behind: never more than the lifetime
            (url("20130524T000000Z", "3600"), T - 20_000, Some(3_600_000)),
            // the browser's clock is far ahead (or the URL is dead): trust arrival + lifetime
            (url("20130524T000000Z", "5"), T + 60_000, Some(5_000)),
            // no date: lifetime from arrival
            ("http://127.0.0.1:9000/b/k?x-amz-expires=5".into(), T, Some(5_000)),
            ("http://h/k?X-Amz-Expires=soon".into(), T, None),
            ("http://h/k".into(), T, None),
            ("http://h/k?Expires=1700000000".into(), T, None),
        ];
        for (u, now, want) in cases {
            assert_eq!(remaining_ms(&u, now), want, "{u} at {now}");
        }
    }
}
