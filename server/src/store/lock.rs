//! S3 Object Lock: a version under retention or legal hold cannot be deleted.
//!
//! - A bucket created with `x-amz-bucket-object-lock-enabled: true` keeps
//!   versioning on (it cannot be suspended) and may have a default retention.
//! - A write may ask for a lock (`x-amz-object-lock-mode` with
//!   `x-amz-object-lock-retain-until-date`, `x-amz-object-lock-legal-hold`);
//!   in a bucket without Object Lock that is refused before anything is stored.
//! - Deleting a locked version is `AccessDenied`: always under a legal hold or
//!   `COMPLIANCE` retention, and under `GOVERNANCE` retention unless the
//!   request sets `x-amz-bypass-governance-retention: true`. Deletes without a
//!   version id only add a delete marker, which a lock does not prevent.
//! - Retention can be extended; shortening or removing it, or changing its
//!   mode, needs the bypass under `GOVERNANCE` and is refused under `COMPLIANCE`.

use s3s::dto::{DefaultRetention, ObjectLockRetentionMode, Timestamp};
use s3s::{S3Result, s3_error};

use super::disk::{BucketMeta, Lock, LockConfig, now_ms};
use super::ms_of;

const DAY_MS: i64 = 24 * 3600 * 1000;

fn locked() -> s3s::S3Error {
    s3_error!(AccessDenied, "Access Denied because object protected by object lock.")
}

fn check_mode(mode: &str) -> S3Result<String> {
    let upper = mode.to_ascii_uppercase();
    if upper == ObjectLockRetentionMode::GOVERNANCE || upper == ObjectLockRetentionMode::COMPLIANCE {
        Ok(upper)
    } else {
        Err(s3_error!(InvalidArgument, "Unknown object lock mode {mode}: use GOVERNANCE or COMPLIANCE."))
    }
}

fn check_hold(status: &str) -> S3Result<bool> {
    match status.to_ascii_uppercase().as_str() {
        "ON" => Ok(true),
        "OFF" => Ok(false),
        _ => Err(s3_error!(InvalidArgument, "Legal hold status is ON or OFF.")),
    }
}

/// The lock a write asks for, checked against its bucket.
pub fn requested(
    bucket: &BucketMeta,
    mode: Option<&str>,
    until: Option<&Timestamp>,
    hold: Option<&str>,
) -> S3Result<Lock> {
    if mode.is_none() && until.is_none() && hold.is_none() {
        return Ok(Lock::default());
    }
    if bucket.object_lock.is_none() {
        return Err(s3_error!(InvalidRequest, "Bucket is missing Object Lock Configuration"));
    }
    let (mode, retain_until_ms) = match (mode, until) {
        (None, None) => (None, None),
        (Some(m), Some(u)) => {
            let until = ms_of(u.clone());
            if until <= now_ms() as i64 {
                return Err(s3_error!(InvalidArgument, "The retain until date must be in the future!"));
            }
            (Some(check_mode(m)?), Some(until))
        }
        _ => {
            return Err(s3_error!(
                InvalidArgument,
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"
            ));
        }
    };
    Ok(Lock { mode, retain_until_ms, legal_hold: hold.map(check_hold).transpose()?.unwrap_or(false) })
}

/// The bucket's default retention for a new object that asked for none.
pub fn with_default(bucket: &BucketMeta, mut lock: Lock, now: u64) -> Lock {
    if let Some(c) = &bucket.object_lock
        && lock.mode.is_none()
        && let Some(mode) = &c.default_mode
    {
        let days = c.default_days.map(i64::from).or(c.default_years.map(|y| i64::from(y) * 365)).unwrap_or(0);
        lock.mode = Some(mode.clone());
        lock.retain_until_ms = Some(now as i64 + days * DAY_MS);
    }
    lock
}

/// Whether a version with `lock` may be deleted now.
pub fn may_delete(lock: &Lock, bypass: bool, now: u64) -> S3Result<()> {
    if lock.legal_hold {
        return Err(locked());
    }
    let retained = lock.retain_until_ms.is_some_and(|u| u > now as i64);
    match lock.mode.as_deref() {
        Some(ObjectLockRetentionMode::COMPLIANCE) if retained => Err(locked()),
        Some(ObjectLockRetentionMode::GOVERNANCE) if retained && !bypass => Err(locked()),
        _ => Ok(()),
    }
}

/// The retention a PutObjectRetention sets on a version now locked by `old`.
pub fn new_retention(
    old: &Lock,
    mode: Option<&str>,
    until: Option<&Timestamp>,
    bypass: bool,
    now: u64,
) -> S3Result<(Option<String>, Option<i64>)> {
    let (mode, until) = match (mode, until) {
        (Some(m), Some(u)) => (Some(check_mode(m)?), Some(ms_of(u.clone()))),
        (None, None) => (None, None),
        _ => return Err(s3_error!(MalformedXML, "A retention has both Mode and RetainUntilDate, or neither.")),
    };
    if let Some(u) = until
        && u <= now as i64
    {
        return Err(s3_error!(InvalidArgument, "The retain until date must be in the future!"));
    }
    let retained = old.retain_until_ms.is_some_and(|u| u > now as i64);
    let weaker = old.mode != mode || until.unwrap_or(i64::MIN) < old.retain_until_ms.unwrap_or(i64::MIN);
    if retained && weaker {
        match old.mode.as_deref() {
            Some(ObjectLockRetentionMode::COMPLIANCE) => return Err(locked()),
            Some(_) if !bypass => return Err(locked()),
            _ => {}
        }
    }
    Ok((mode, until))
}

/// The legal hold status of a PutObjectLegalHold.
pub fn hold_of(status: Option<&str>) -> S3Result<bool> {
    check_hold(status.ok_or_else(|| s3_error!(MalformedXML, "LegalHold needs a Status."))?)
}

/// A bucket's Object Lock rule from PutObjectLockConfiguration.
pub fn config_of(rule: Option<DefaultRetention>) -> S3Result<LockConfig> {
    let Some(r) = rule else { return Ok(LockConfig::default()) };
    let mode = r.mode.as_ref().map(|m| check_mode(m.as_str())).transpose()?;
    match (r.days, r.years) {
        (Some(d), None) if d > 0 => {}
        (None, Some(y)) if y > 0 => {}
        _ => {
            return Err(s3_error!(MalformedXML, "A default retention has a positive Days or Years, not both."));
        }
    }
    if mode.is_none() {
        return Err(s3_error!(MalformedXML, "A default retention needs a Mode."));
    }
    Ok(LockConfig { default_mode: mode, default_days: r.days, default_years: r.years })
}

/// A bucket's Object Lock rule as GetObjectLockConfiguration answers it.
pub fn rule_of(c: &LockConfig) -> Option<DefaultRetention> {
    c.default_mode.as_ref().map(|m| DefaultRetention {
        mode: Some(ObjectLockRetentionMode::from(m.clone())),
        days: c.default_days,
        years: c.default_years,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(mode: Option<&str>, until: Option<i64>, hold: bool) -> Lock {
        Lock { mode: mode.map(str::to_owned), retain_until_ms: until, legal_hold: hold }
    }

    #[test]
    fn deletes_respect_holds_modes_and_the_bypass() {
        let now = 1_000_000;
        assert!(may_delete(&lock(None, None, false), false, now).is_ok());
        assert!(may_delete(&lock(None, None, true), true, now).is_err());
        assert!(may_delete(&lock(Some("COMPLIANCE"), Some(2_000_000), false), true, now).is_err());
        assert!(may_delete(&lock(Some("GOVERNANCE"), Some(2_000_000), false), false, now).is_err());
        assert!(may_delete(&lock(Some("GOVERNANCE"), Some(2_000_000), false), true, now).is_ok());
        // Retention that has run out holds nothing.
        assert!(may_delete(&lock(Some("COMPLIANCE"), Some(999_999), false), false, now).is_ok());
    }

    #[test]
    fn retention_extends_freely_and_shortens_only_under_governance_with_the_bypass() {
        let now = 1_000;
        let later = |ms: i64| Timestamp::from(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms as u64));
        let gov = lock(Some("GOVERNANCE"), Some(5_000), false);
        let comp = lock(Some("COMPLIANCE"), Some(5_000), false);
        assert!(new_retention(&comp, Some("COMPLIANCE"), Some(&later(9_000)), false, now).is_ok());
        assert!(new_retention(&comp, Some("COMPLIANCE"), Some(&later(3_000)), true, now).is_err());
        assert!(new_retention(&comp, Some("GOVERNANCE"), Some(&later(9_000)), true, now).is_err());
        assert!(new_retention(&gov, Some("GOVERNANCE"), Some(&later(3_000)), false, now).is_err());
        assert!(new_retention(&gov, Some("GOVERNANCE"), Some(&later(3_000)), true, now).is_ok());
        assert!(new_retention(&gov, None, None, true, now).is_ok());
        assert!(new_retention(&gov, Some("GOVERNANCE"), Some(&later(500)), true, now).is_err(), "in the past");
    }
}
