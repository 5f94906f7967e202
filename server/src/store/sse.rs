//! Server-side encryption with customer-provided keys (SSE-C).
//!
//! A request that sends `x-amz-server-side-encryption-customer-{algorithm,key,key-MD5}`
//! has its bytes stored encrypted with that key (AES-256 in CTR mode, a fresh
//! random IV per data file, so ranged reads decrypt from any offset), and the
//! key itself is never stored: only a salted SHA-256 of it, to recognise it.
//! Reading the object then needs the same key: without it, or with another,
//! 400 `InvalidRequest` (as S3 answers). Every part of an SSE-C
//! multipart upload must carry the upload's key. A malformed key, or a key
//! whose MD5 is not the one sent, is 400 `InvalidArgument` before anything is
//! stored. (Copying SSE-C objects is not supported: refused `NotImplemented`.)

use aes::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use base64::Engine as _;
use s3s::crypto::Checksum as _;
use s3s::{S3Result, s3_error};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type Cipher = ctr::Ctr128BE<aes::Aes256>;

/// A customer key, checked.
#[derive(Clone)]
pub struct Key {
    bytes: [u8; 32],
    md5: String,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key").field("md5", &self.md5).finish_non_exhaustive()
    }
}

/// What is kept of an SSE-C key with an object or upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// The key's MD5, base64 (S3 answers it back).
    pub key_md5: String,
    /// Random salt, hex.
    pub salt: String,
    /// SHA-256 of salt and key, hex.
    pub check: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn salted(salt: &str, key: &[u8; 32]) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(key);
    hex(&h.finalize())
}

/// The key of a request's SSE-C headers (`None` when it sends none).
pub fn from_headers(algorithm: Option<&str>, key: Option<&str>, key_md5: Option<&str>) -> S3Result<Option<Key>> {
    let (algorithm, key, key_md5) = match (algorithm, key, key_md5) {
        (None, None, None) => return Ok(None),
        (Some(a), Some(k), Some(m)) => (a, k, m),
        _ => {
            return Err(s3_error!(
                InvalidArgument,
                "Requests specifying Server Side Encryption with Customer provided keys must provide the algorithm, the key and the key's MD5."
            ));
        }
    };
    if algorithm != "AES256" {
        return Err(s3_error!(InvalidEncryptionAlgorithmError, "The encryption algorithm must be AES256."));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let bytes: [u8; 32] = b64.decode(key.trim()).ok().and_then(|k| k.try_into().ok()).ok_or_else(|| {
        s3_error!(
            InvalidArgument,
            "The secret key was invalid for the specified algorithm: it must be 256 bits, base64."
        )
    })?;
    let mut md5 = s3s::crypto::Md5::new();
    md5.update(&bytes);
    let computed = b64.encode(md5.finalize());
    if computed != key_md5.trim() {
        return Err(s3_error!(
            InvalidArgument,
            "The calculated MD5 hash of the key did not match the hash that was provided."
        ));
    }
    Ok(Some(Key { bytes, md5: computed }))
}

impl Key {
    /// What is stored to recognise this key later.
    pub fn seal(&self) -> Sealed {
        let salt = hex(&fastrand::u128(..).to_le_bytes());
        Sealed { key_md5: self.md5.clone(), check: salted(&salt, &self.bytes), salt }
    }

    /// Whether this is the key `sealed` was made from.
    pub fn opens(&self, sealed: &Sealed) -> bool {
        use subtle::ConstantTimeEq as _;
        salted(&sealed.salt, &self.bytes).as_bytes().ct_eq(sealed.check.as_bytes()).into()
    }

    /// The ETag of bytes whose MD5 is `md5` (hex), stored with this key: an
    /// MD5 of key and digest, so that it reveals nothing of the plaintext to
    /// whoever lists the bucket, and the same bytes sent again (a part
    /// resent) get the same ETag.
    pub fn keyed_etag(&self, md5: &str) -> String {
        let mut h = s3s::crypto::Md5::new();
        h.update(&self.bytes);
        h.update(md5.as_bytes());
        hex(h.finalize().as_ref())
    }

    /// Its MD5, base64.
    pub fn md5(&self) -> &str {
        &self.md5
    }

    /// A keystream for a data file with `iv` (hex), from byte `offset` on.
    pub fn cipher(&self, iv: &str, offset: u64) -> std::io::Result<Stream> {
        let iv: [u8; 16] = (0..16)
            .map(|i| iv.get(2 * i..2 * i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect::<Option<Vec<u8>>>()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| std::io::Error::other("a data file's IV is malformed"))?;
        let mut c = Cipher::new(&self.bytes.into(), &iv.into());
        c.try_seek(offset).map_err(|_| std::io::Error::other("an offset past the keystream"))?;
        Ok(Stream(c))
    }
}

/// A fresh IV for a new data file, hex.
pub fn new_iv() -> String {
    hex(&fastrand::u128(..).to_le_bytes())
}

/// A positioned keystream.
pub struct Stream(Cipher);

impl Stream {
    /// Encrypts or decrypts `buf` in place (CTR is its own inverse).
    pub fn apply(&mut self, buf: &mut [u8]) {
        self.0.apply_keystream(buf);
    }
}

/// Whether a read of an object stored with `sealed` may go on with `key`.
pub fn check_read(sealed: Option<&Sealed>, key: Option<&Key>) -> S3Result<()> {
    match (sealed, key) {
        (None, None) => Ok(()),
        (Some(_), None) => Err(s3_error!(
            InvalidRequest,
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object."
        )),
        (Some(s), Some(k)) if k.opens(s) => Ok(()),
        // S3 answers 400 here (the conformance suite checks it), not 403.
        (Some(_), Some(_)) => Err(s3_error!(InvalidRequest, "The provided customer key is not the object's.")),
        (None, Some(_)) => {
            Err(s3_error!(InvalidRequest, "The encryption parameters are not applicable to this object."))
        }
    }
}

/// Whether a part may join an upload started with `sealed`.
pub fn check_part(sealed: Option<&Sealed>, key: Option<&Key>) -> S3Result<()> {
    match (sealed, key) {
        (None, None) => Ok(()),
        (Some(s), Some(k)) if k.opens(s) => Ok(()),
        _ => Err(s3_error!(
            InvalidRequest,
            "The customer key of a part must be the one its multipart upload was created with."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "pO3upElrwuEXSoFwCfnZPdSsmt/xWeFa0N9KgDijwVs=";
    const MD5: &str = "DWygnHRtgiJ77HCm+1rvHw==";

    #[test]
    fn keys_are_checked_sealed_and_recognised() {
        let key = from_headers(Some("AES256"), Some(KEY), Some(MD5)).expect("valid").expect("some");
        assert!(from_headers(Some("AES256"), Some(KEY), Some("AAAAAAAAAAAAAAAAAAAAAA==")).is_err());
        assert!(from_headers(Some("AES128"), Some(KEY), Some(MD5)).is_err());
        assert!(from_headers(Some("AES256"), Some("c2hvcnQ="), Some(MD5)).is_err());
        assert!(from_headers(Some("AES256"), None, None).is_err());
        assert!(from_headers(None, None, None).expect("none").is_none());
        let sealed = key.seal();
        assert!(!sealed.check.contains(KEY) && key.opens(&sealed));
        let other = from_headers(
            Some("AES256"),
            Some("6b+WOZ1T3cqZMxgThRcXAQBrS5mXKdDUphvpxptl9/4="),
            Some("arxBvwY2V4SiOne6yppVPQ=="),
        )
        .expect("valid")
        .expect("some");
        assert!(!other.opens(&sealed));
        assert!(check_read(Some(&sealed), None).is_err() && check_read(Some(&sealed), Some(&other)).is_err());
        assert!(check_read(Some(&sealed), Some(&key)).is_ok() && check_part(None, Some(&key)).is_err());
    }

    #[test]
    fn a_keystream_read_from_an_offset_matches_the_whole() {
        let key = from_headers(Some("AES256"), Some(KEY), Some(MD5)).expect("valid").expect("some");
        let iv = new_iv();
        let plain: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let mut sealed = plain.clone();
        key.cipher(&iv, 0).expect("cipher").apply(&mut sealed);
        assert_ne!(sealed, plain);
        let mut tail = sealed[333..].to_vec();
        key.cipher(&iv, 333).expect("cipher").apply(&mut tail);
        assert_eq!(tail, plain[333..]);
    }
}
