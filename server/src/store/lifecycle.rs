//! Bucket lifecycle rules, enforced: `AbortIncompleteMultipartUpload` (the
//! store's answer to uploads a client left behind), `Expiration` (days or a
//! date) and `NoncurrentVersionExpiration`. A rule this store could only
//! pretend to apply (storage-class transitions, filters by tag or size,
//! `ExpiredObjectDeleteMarker`, `NewerNoncurrentVersions`) is refused with
//! `NotImplemented` naming it, rather than stored and ignored.
//!
//! [`Store::apply_lifecycle`] applies every bucket's rules as of a given
//! time; the server runs it at start and then every [`SWEEP_EVERY`].

use std::collections::BTreeSet;
use std::time::Duration;

use s3s::dto::{
    AbortIncompleteMultipartUpload, ExpirationStatus, LifecycleExpiration, LifecycleRule as Rule, LifecycleRuleFilter,
    NoncurrentVersionExpiration,
};
use s3s::{S3Result, s3_error};

use super::disk::{LifecycleRule, current};
use super::{Store, timestamp};

/// How often the server applies lifecycle rules.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);

const DAY_MS: u64 = 24 * 3600 * 1000;

/// The rules of a PutBucketLifecycleConfiguration, checked.
pub fn from_dto(rules: Vec<Rule>) -> S3Result<Vec<LifecycleRule>> {
    if rules.is_empty() || rules.len() > 1000 {
        return Err(s3_error!(MalformedXML, "A lifecycle configuration holds 1 to 1,000 rules."));
    }
    let mut ids = BTreeSet::new();
    let mut out = Vec::with_capacity(rules.len());
    for r in rules {
        let id = r.id.filter(|id| !id.is_empty());
        if let Some(id) = &id {
            if id.chars().count() > 255 {
                return Err(s3_error!(InvalidArgument, "A lifecycle rule's ID is at most 255 characters."));
            }
            if !ids.insert(id.clone()) {
                return Err(s3_error!(InvalidArgument, "Rule ID must be unique. Found same ID for more than one rule"));
            }
        }
        if r.transitions.as_ref().is_some_and(|t| !t.is_empty())
            || r.noncurrent_version_transitions.as_ref().is_some_and(|t| !t.is_empty())
        {
            return Err(s3_error!(
                NotImplemented,
                "This store has one storage class: lifecycle transitions are not supported."
            ));
        }
        let (prefix, filter) = match (r.filter, r.prefix) {
            (Some(_), Some(_)) => {
                return Err(s3_error!(MalformedXML, "A lifecycle rule has either Filter or Prefix, not both."));
            }
            (Some(f), None) => (filter_prefix(f)?, true),
            (None, p) => (p.unwrap_or_default(), false),
        };
        let enabled = match r.status.as_str() {
            ExpirationStatus::ENABLED => true,
            ExpirationStatus::DISABLED => false,
            _ => return Err(s3_error!(MalformedXML, "A lifecycle rule's Status is Enabled or Disabled.")),
        };
        let mut rule = LifecycleRule { id, prefix, enabled, filter, ..Default::default() };
        if let Some(e) = r.expiration {
            if e.expired_object_delete_marker.is_some() {
                return Err(s3_error!(NotImplemented, "ExpiredObjectDeleteMarker is not supported by this store."));
            }
            match (e.days, e.date) {
                (Some(d), None) => rule.expiration_days = Some(positive_days(d, "Expiration")?),
                (None, Some(date)) => rule.expiration_date_ms = Some(super::ms_of(date)),
                _ => {
                    return Err(s3_error!(MalformedXML, "An Expiration action has either Days or Date."));
                }
            }
        }
        if let Some(n) = r.noncurrent_version_expiration {
            if n.newer_noncurrent_versions.is_some() {
                return Err(s3_error!(NotImplemented, "NewerNoncurrentVersions is not supported by this store."));
            }
            let days = n.noncurrent_days.ok_or_else(|| s3_error!(MalformedXML, "NoncurrentDays is missing."))?;
            rule.noncurrent_days = Some(positive_days(days, "NoncurrentVersionExpiration")?);
        }
        if let Some(a) = r.abort_incomplete_multipart_upload {
            let days =
                a.days_after_initiation.ok_or_else(|| s3_error!(MalformedXML, "DaysAfterInitiation is missing."))?;
            rule.abort_incomplete_days = Some(positive_days(days, "AbortIncompleteMultipartUpload")?);
        }
        if rule.expiration_days.is_none()
            && rule.expiration_date_ms.is_none()
            && rule.noncurrent_days.is_none()
            && rule.abort_incomplete_days.is_none()
        {
            return Err(s3_error!(InvalidRequest, "At least one action needs to be specified in a rule"));
        }
        out.push(rule);
    }
    Ok(out)
}

fn filter_prefix(f: LifecycleRuleFilter) -> S3Result<String> {
    if f.and.is_some() || f.tag.is_some() || f.object_size_greater_than.is_some() || f.object_size_less_than.is_some() {
        return Err(s3_error!(
            NotImplemented,
            "Lifecycle filters by tag or object size are not supported by this store: filter by Prefix."
        ));
    }
    Ok(f.prefix.unwrap_or_default())
}

fn positive_days(days: i32, action: &str) -> S3Result<i32> {
    if days > 0 {
        Ok(days)
    } else {
        Err(s3_error!(InvalidArgument, "'Days' in the {action} action must be a positive integer"))
    }
}

/// A stored rule as GetBucketLifecycleConfiguration answers it.
pub fn to_dto(r: &LifecycleRule) -> Rule {
    let expiration = (r.expiration_days.is_some() || r.expiration_date_ms.is_some()).then(|| LifecycleExpiration {
        days: r.expiration_days,
        date: r.expiration_date_ms.map(|ms| timestamp(ms.max(0) as u64)),
        expired_object_delete_marker: None,
    });
    Rule {
        id: r.id.clone(),
        status: ExpirationStatus::from_static(if r.enabled {
            ExpirationStatus::ENABLED
        } else {
            ExpirationStatus::DISABLED
        }),
        filter: r.filter.then(|| LifecycleRuleFilter { prefix: Some(r.prefix.clone()), ..Default::default() }),
        prefix: (!r.filter).then(|| r.prefix.clone()),
        expiration,
        noncurrent_version_expiration: r
            .noncurrent_days
            .map(|d| NoncurrentVersionExpiration { noncurrent_days: Some(d), newer_noncurrent_versions: None }),
        abort_incomplete_multipart_upload: r
            .abort_incomplete_days
            .map(|d| AbortIncompleteMultipartUpload { days_after_initiation: Some(d) }),
        noncurrent_version_transitions: None,
        transitions: None,
    }
}

/// What one application of the rules did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    /// Multipart uploads aborted.
    pub uploads_aborted: usize,
    /// Current objects expired (deleted, or hidden by a delete marker in a versioned bucket).
    pub objects_expired: usize,
    /// Noncurrent versions deleted.
    pub versions_expired: usize,
}

fn older_than(since_ms: u64, days: i32, now_ms: u64) -> bool {
    now_ms >= since_ms.saturating_add(days.max(0) as u64 * DAY_MS)
}

impl Store {
    /// Applies every bucket's enabled rules as of `now_ms` (ms since the
    /// epoch): aborts uploads initiated more than `DaysAfterInitiation` days
    /// ago, expires current objects older than `Days` (or from `Date` on),
    /// and deletes versions noncurrent for more than `NoncurrentDays` (counted
    /// from when the next version was written). Each change is the store's
    /// ordinary abort or delete, so it is as atomic as those.
    pub async fn apply_lifecycle(&self, now_ms: u64) -> Swept {
        let mut aborts = BTreeSet::new();
        let mut expired = BTreeSet::new();
        let mut noncurrent = BTreeSet::new();
        {
            let buckets = self.buckets.lock().await;
            for (name, b) in buckets.iter() {
                for rule in b.meta.lifecycle.iter().filter(|r| r.enabled) {
                    if let Some(days) = rule.abort_incomplete_days {
                        for (id, u) in &b.uploads {
                            if u.completed.is_none()
                                && u.meta.key.starts_with(&rule.prefix)
                                && older_than(u.meta.initiated_ms, days, now_ms)
                            {
                                aborts.insert((name.clone(), u.meta.key.clone(), id.clone()));
                            }
                        }
                    }
                    let keys = b.objects.range(rule.prefix.clone()..).take_while(|(k, _)| k.starts_with(&rule.prefix));
                    for (key, versions) in keys {
                        if let Some(cur) = current(versions) {
                            let by_days = rule.expiration_days.is_some_and(|d| older_than(cur.modified_ms, d, now_ms));
                            let by_date = rule.expiration_date_ms.is_some_and(|d| now_ms as i64 >= d);
                            if by_days || by_date {
                                expired.insert((name.clone(), key.clone()));
                            }
                        }
                        if let Some(days) = rule.noncurrent_days {
                            for pair in versions.windows(2) {
                                if older_than(pair[0].modified_ms, days, now_ms) {
                                    noncurrent.insert((name.clone(), key.clone(), pair[1].version_name().to_owned()));
                                }
                            }
                        }
                    }
                }
            }
        }
        let mut swept = Swept::default();
        for (bucket, key, id) in aborts {
            if self.abort_upload(&bucket, &key, &id).await.is_ok() {
                swept.uploads_aborted += 1;
            }
        }
        for (bucket, key, version) in noncurrent {
            if self.delete_key(&bucket, &key, Some(&version), false).await.is_ok() {
                swept.versions_expired += 1;
            }
        }
        for (bucket, key) in expired {
            if self.delete_key(&bucket, &key, None, false).await.is_ok() {
                swept.objects_expired += 1;
            }
        }
        swept
    }

    /// Applies lifecycle rules now and then every [`SWEEP_EVERY`], for as long as the task runs.
    pub async fn run_lifecycle(self) {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        loop {
            tick.tick().await;
            let swept = self.apply_lifecycle(super::disk::now_ms()).await;
            if swept != Swept::default() {
                tracing::info!(?swept, "lifecycle rules applied");
            }
        }
    }
}
