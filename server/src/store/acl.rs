//! Access control lists and anonymous requests.
//!
//! The store has one identity (the keys it is started with), which owns every
//! bucket and object and may do anything. ACLs matter for requests with no
//! signature at all: such a request may read an object whose ACL grants
//! `READ` to everyone (`public-read`), list or read missing keys of a bucket
//! whose ACL grants `READ` to everyone, and write or delete in a bucket
//! whose ACL grants `WRITE` to everyone (`public-read-write`). Anything else
//! is `AccessDenied`, as before; so is any unsigned request naming a
//! `versionId` (an older version is not public because the current one is,
//! and deleting a version is for good). (A request to a bucket that does not
//! exist is let through, to be answered `NoSuchBucket`, as S3 does.)
//!
//! ACLs are set as S3 sets them: a canned ACL (`x-amz-acl`), `x-amz-grant-*`
//! headers, or an `AccessControlPolicy` body.

use s3s::access::{S3Access, S3AccessContext};
use s3s::dto::{AccessControlPolicy, Grant, Grantee, Owner, Permission, Type};
use s3s::path::S3Path;
use s3s::{S3Result, s3_error};

use super::disk::{Acl, GrantMeta, current};
use super::{Store, owner};

/// The group of everyone, signed or not.
pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
/// The group of every signed request.
pub const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

const BUCKET_CANNED: [&str; 4] = ["private", "public-read", "public-read-write", "authenticated-read"];
const OBJECT_CANNED: [&str; 7] = [
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
];
const PERMISSIONS: [&str; 5] = ["READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL"];

/// The `x-amz-grant-*` headers of a request, in S3's order.
#[derive(Debug, Default, Clone, Copy)]
pub struct GrantHeaders<'a> {
    /// `x-amz-grant-read`.
    pub read: Option<&'a str>,
    /// `x-amz-grant-write`.
    pub write: Option<&'a str>,
    /// `x-amz-grant-read-acp`.
    pub read_acp: Option<&'a str>,
    /// `x-amz-grant-write-acp`.
    pub write_acp: Option<&'a str>,
    /// `x-amz-grant-full-control`.
    pub full_control: Option<&'a str>,
}

/// An ACL from a canned name and grant headers; `bucket` picks the canned names allowed.
pub fn from_request(canned: Option<&str>, headers: GrantHeaders<'_>, bucket: bool) -> S3Result<Acl> {
    let allowed: &[&str] = if bucket { &BUCKET_CANNED } else { &OBJECT_CANNED };
    if let Some(c) = canned
        && !allowed.contains(&c)
    {
        return Err(s3_error!(InvalidArgument, "Unknown canned ACL {c}: use one of {}.", allowed.join(", ")));
    }
    let mut grants = Vec::new();
    for (permission, header) in [
        ("READ", headers.read),
        ("WRITE", headers.write),
        ("READ_ACP", headers.read_acp),
        ("WRITE_ACP", headers.write_acp),
        ("FULL_CONTROL", headers.full_control),
    ] {
        for grantee in header.into_iter().flat_map(|h| h.split(',')).map(str::trim).filter(|g| !g.is_empty()) {
            let (kind, value) = grantee
                .split_once('=')
                .ok_or_else(|| s3_error!(InvalidArgument, "A grant is kind=\"value\": id, uri or emailAddress."))?;
            let grantee_type = match kind.trim() {
                "id" => "CanonicalUser",
                "uri" => "Group",
                "emailAddress" => "AmazonCustomerByEmail",
                other => {
                    return Err(s3_error!(
                        InvalidArgument,
                        "Unknown grantee kind {other}: use id, uri or emailAddress."
                    ));
                }
            };
            let value = value.trim().trim_matches('"').to_owned();
            grants.push(GrantMeta { grantee_type: grantee_type.into(), grantee: value, permission: permission.into() });
        }
    }
    if canned.is_some() && !grants.is_empty() {
        return Err(s3_error!(InvalidRequest, "Specifying both Canned ACLs and Header Grants is not allowed"));
    }
    Ok(Acl { canned: canned.filter(|c| *c != "private").map(str::to_owned), grants })
}

/// An ACL from an `AccessControlPolicy` body.
pub fn from_policy(policy: AccessControlPolicy) -> S3Result<Acl> {
    let mut grants = Vec::new();
    for g in policy.grants.unwrap_or_default() {
        let (Some(grantee), Some(permission)) = (g.grantee, g.permission) else {
            return Err(s3_error!(MalformedACLError, "Every Grant needs a Grantee and a Permission."));
        };
        let permission = permission.as_str().to_owned();
        if !PERMISSIONS.contains(&permission.as_str()) {
            return Err(s3_error!(MalformedACLError, "Unknown permission {permission}."));
        }
        let value = match grantee.type_.as_str() {
            Type::CANONICAL_USER => grantee.id,
            Type::GROUP => grantee.uri,
            Type::AMAZON_CUSTOMER_BY_EMAIL => grantee.email_address,
            _ => None,
        };
        let value = value.ok_or_else(|| s3_error!(MalformedACLError, "A Grantee names its id, URI or email."))?;
        // The owner's own full control is implied.
        if grantee.type_.as_str() == Type::CANONICAL_USER && value == "s3mp" && permission == "FULL_CONTROL" {
            continue;
        }
        grants.push(GrantMeta { grantee_type: grantee.type_.as_str().to_owned(), grantee: value, permission });
    }
    Ok(Acl { canned: None, grants })
}

fn grant(kind: &str, value: &str, permission: &str) -> Grant {
    let t = Type::from(kind.to_owned());
    let mut g = Grantee { display_name: None, email_address: None, id: None, type_: t, uri: None };
    match kind {
        Type::GROUP => g.uri = Some(value.to_owned()),
        Type::AMAZON_CUSTOMER_BY_EMAIL => g.email_address = Some(value.to_owned()),
        _ => {
            g.id = Some(value.to_owned());
            g.display_name = Some(value.to_owned());
        }
    }
    Grant { grantee: Some(g), permission: Some(Permission::from(permission.to_owned())) }
}

/// The grants GetBucketAcl and GetObjectAcl answer: the owner's, the canned ACL's, the explicit ones.
pub fn grants_of(acl: &Acl) -> (Owner, Vec<Grant>) {
    let mut grants = vec![grant(Type::CANONICAL_USER, "s3mp", "FULL_CONTROL")];
    match acl.canned.as_deref() {
        Some("public-read") => grants.push(grant(Type::GROUP, ALL_USERS, "READ")),
        Some("public-read-write") => {
            grants.push(grant(Type::GROUP, ALL_USERS, "READ"));
            grants.push(grant(Type::GROUP, ALL_USERS, "WRITE"));
        }
        Some("authenticated-read") => grants.push(grant(Type::GROUP, AUTHENTICATED_USERS, "READ")),
        _ => {}
    }
    grants.extend(acl.grants.iter().map(|g| grant(&g.grantee_type, &g.grantee, &g.permission)));
    (owner(), grants)
}

/// Whether `acl` grants `permission` to everyone.
pub fn public(acl: &Acl, permission: &str) -> bool {
    let canned = match acl.canned.as_deref() {
        Some("public-read") => permission == "READ",
        Some("public-read-write") => permission == "READ" || permission == "WRITE",
        _ => false,
    };
    canned
        || acl.grants.iter().any(|g| {
            g.grantee_type == Type::GROUP
                && g.grantee == ALL_USERS
                && (g.permission == permission || g.permission == "FULL_CONTROL")
        })
}

/// Access control in front of the store: signed requests may do anything;
/// unsigned ones what the ACLs grant to everyone.
#[derive(Debug, Clone)]
pub struct Access(pub Store);

#[async_trait::async_trait]
impl S3Access for Access {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_some() {
            return Ok(());
        }
        let denied =
            || s3_error!(AccessDenied, "Access Denied: sign the request, or make the bucket or object public.");
        let (bucket, key) = match cx.s3_path() {
            S3Path::Bucket { bucket } => (bucket.to_string(), None),
            S3Path::Object { bucket, key } => (bucket.to_string(), Some(key.to_string())),
            S3Path::Root => return Err(denied()),
        };
        let op = cx.s3_op().name();
        // A version other than the current one is never public: its ACL is
        // not what the key's current object shows, and deleting one is for good.
        if cx.uri().query().is_some_and(|q| q.split('&').any(|kv| kv.starts_with("versionId"))) {
            return Err(denied());
        }
        let buckets = self.0.buckets.lock().await;
        let Some(b) = buckets.get(&bucket) else {
            // Answered NoSuchBucket, as S3 does.
            return if matches!(
                op,
                "GetObject" | "HeadObject" | "PutObject" | "DeleteObject" | "ListObjects" | "ListObjectsV2"
            ) {
                Ok(())
            } else {
                Err(denied())
            };
        };
        let allowed = match (op, key) {
            ("GetObject" | "HeadObject", Some(key)) => match b.objects.get(&key).and_then(|v| current(v)) {
                Some(object) => public(&object.acl, "READ"),
                None => public(&b.meta.acl, "READ"),
            },
            ("ListObjects" | "ListObjectsV2", None) => public(&b.meta.acl, "READ"),
            ("PutObject" | "DeleteObject", Some(_)) => public(&b.meta.acl, "WRITE"),
            _ => false,
        };
        if allowed { Ok(()) } else { Err(denied()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_acls_and_grant_headers_are_checked_and_read() {
        let acl = from_request(Some("public-read"), GrantHeaders::default(), true).expect("canned");
        assert!(public(&acl, "READ") && !public(&acl, "WRITE"));
        assert!(from_request(Some("bucket-owner-read"), GrantHeaders::default(), true).is_err(), "object-only name");
        assert!(from_request(Some("nonsense"), GrantHeaders::default(), false).is_err());
        let both = format!("uri=\"{ALL_USERS}\", id=\"someone\"");
        let h = GrantHeaders { write: Some(&both), ..Default::default() };
        let acl = from_request(None, h, true).expect("grants");
        assert_eq!(acl.grants.len(), 2);
        assert!(public(&acl, "WRITE") && !public(&acl, "READ"));
        assert!(from_request(Some("public-read"), h, true).is_err(), "both canned and grants");
        assert!(from_request(None, GrantHeaders { read: Some("who=\"x\""), ..Default::default() }, true).is_err());
        assert!(Acl::default().is_private() && !public(&Acl::default(), "READ"));
    }
}
