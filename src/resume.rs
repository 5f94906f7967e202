//! The resume journal's rules, pure: what an entry holds, how a file is
//! recognised again after a page reload, and whether an entry may be resumed.
//! The browser glue stores entries (`localStorage`, or IndexedDB in workers)
//! and carries the decisions out.
//!
//! A file is recognised by its fingerprint: name, size, `lastModified`, and a
//! hash of a small content sample (64 KiB at the start, middle and end). An
//! entry is looked up by endpoint, key, name, size and `lastModified`; when
//! those match but the sample hash does not, the file changed under the same
//! name and date: the old upload is refused (aborted), not resumed.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::json::Json;

/// Version of the entry format.
pub const JOURNAL_VERSION: u64 = 1;
/// Entries older than this are dropped (and their uploads aborted): 7 days.
pub const DEFAULT_TTL_MS: u64 = 7 * 24 * 3600 * 1000;
/// Whether an entry last changed at `updated_ms` has expired at `now_ms`
/// (older than `ttl_ms`): not resumed, and its upload aborted.
pub fn expired(updated_ms: u64, now_ms: u64, ttl_ms: u64) -> bool {
    now_ms.saturating_sub(updated_ms) > ttl_ms
}

/// Bytes hashed at each sample point.
pub const SAMPLE_BYTES: u64 = 64 * 1024;

/// One resumable upload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// Format version.
    pub v: u64,
    /// Lookup id (see [`entry_id`]).
    pub id: String,
    /// The backend it belongs to.
    pub endpoint: String,
    /// Object key.
    pub key: String,
    /// File name.
    pub name: String,
    /// File size.
    pub size: u64,
    /// File `lastModified` (ms).
    pub last_modified: u64,
    /// Hash of the content sample.
    pub sample: String,
    /// The multipart upload.
    pub upload_id: String,
    /// Its part size.
    pub part_size: u64,
    /// The first part of the size its parts grew to, 0 when they did not
    /// ([`crate::engine::Action::Grown`]; entries written before parts grew
    /// have none).
    pub grown_from: u64,
    /// The size they grew to.
    pub grown_size: u64,
    /// MIME type.
    pub content_type: String,
    /// When it started (ms since the epoch).
    pub created_ms: u64,
    /// Last change (ms since the epoch).
    pub updated_ms: u64,
    /// Parts known to be stored: (number, ETag).
    pub parts: Vec<(u16, String)>,
    /// The checksum algorithm its parts carry (S3's name, `CRC32`), empty for
    /// none: a multipart upload created with an algorithm wants it on every
    /// part, one created without refuses parts that carry one. (Entries
    /// written before checksums existed have none.)
    pub checksum: String,
    /// The client token of the upload's init, written before init is sent:
    /// an entry with a token and no upload id is an init whose answer was
    /// never recorded (the page was closed while it was on its way), asked
    /// again with the same token after a reload so that a backend that keeps
    /// tokens answers with the upload it created, which would otherwise be
    /// left open. Empty in entries written before tokens existed.
    pub token: String,
}

/// The entry's text fields by their JSON names, in [`Entry::texts`]' order;
/// the last two may be missing (entries written before checksums and tokens).
const TEXTS: [&str; 9] = ["id", "endpoint", "key", "name", "sample", "upload_id", "content_type", "checksum", "token"];
/// Its number fields, in [`Entry::numbers`]' order; the last two may be
/// missing (entries written before parts grew).
const NUMBERS: [&str; 8] =
    ["v", "size", "last_modified", "part_size", "created_ms", "updated_ms", "grown_from", "grown_size"];

impl Entry {
    /// The text fields, in [`TEXTS`]' order.
    fn texts(&mut self) -> [&mut String; 9] {
        [
            &mut self.id,
            &mut self.endpoint,
            &mut self.key,
            &mut self.name,
            &mut self.sample,
            &mut self.upload_id,
            &mut self.content_type,
            &mut self.checksum,
            &mut self.token,
        ]
    }

    /// The number fields, in [`NUMBERS`]' order (`v` widened).
    fn numbers(&mut self) -> [&mut u64; 8] {
        [
            &mut self.v,
            &mut self.size,
            &mut self.last_modified,
            &mut self.part_size,
            &mut self.created_ms,
            &mut self.updated_ms,
            &mut self.grown_from,
            &mut self.grown_size,
        ]
    }

    /// Its parts' sizes: the part size, and the first part and size of its
    /// grown parts, if they grew (a first part past 65,535 reads as 0,
    /// which no plan takes).
    pub fn part_sizes(&self) -> (u64, Option<(u16, u64)>) {
        let grown = (self.grown_from > 0).then(|| (u16::try_from(self.grown_from).unwrap_or(0), self.grown_size));
        (self.part_size, grown)
    }

    /// The entry as the journal stores it: a JSON object of the fields by
    /// their names, `parts` as `[[number, etag], ...]`. (Table-driven, like
    /// [`Entry::from_json`]: a field by hand each was 0.3 KiB more of the
    /// module, gzipped.)
    pub fn to_json(&self) -> String {
        let mut e = self.clone();
        let mut members: Vec<(String, Json)> = Vec::new();
        for (k, v) in TEXTS.iter().zip(e.texts()) {
            members.push(((*k).to_owned(), Json::String(core::mem::take(v))));
        }
        for (k, v) in NUMBERS.iter().zip(e.numbers()) {
            members.push(((*k).to_owned(), Json::from(*v)));
        }
        let parts = self.parts.iter().map(|(n, e)| Json::Array(vec![(*n).into(), e.as_str().into()]));
        members.push(("parts".to_owned(), Json::Array(parts.collect())));
        Json::Object(members).text()
    }

    /// An entry read back; `None` when the text is not one (every field is
    /// required but `checksum` and `token`, which entries written before
    /// checksums and tokens existed do not have).
    pub fn from_json(text: &str) -> Option<Entry> {
        let j = Json::parse(text).ok()?;
        let mut e = Entry::default();
        for (i, (k, v)) in TEXTS.iter().zip(e.texts()).enumerate() {
            match j.get(k) {
                None if i >= 7 => {}
                found => found?.as_str()?.clone_into(v),
            }
        }
        for (i, (k, v)) in NUMBERS.iter().zip(e.numbers()).enumerate() {
            match j.get(k) {
                None if i >= 6 => {}
                found => *v = found?.as_u64()?,
            }
        }
        let Json::Array(items) = j.get("parts")? else { return None };
        for p in items {
            let Json::Array(pair) = p else { return None };
            let [n, etag] = pair.as_slice() else { return None };
            e.parts.push((n.as_u64().and_then(|n| u16::try_from(n).ok())?, etag.as_str()?.to_owned()));
        }
        Some(e)
    }
}

/// The lookup id of an entry.
pub fn entry_id(endpoint: &str, key: &str, name: &str, size: u64, last_modified: u64) -> String {
    cat!(endpoint, "\u{1f}", key, "\u{1f}", name, "\u{1f}", size, "\u{1f}", last_modified)
}

/// The byte ranges hashed for the fingerprint: up to three of 64 KiB.
pub fn sample_ranges(size: u64) -> Vec<(u64, u64)> {
    if size <= 3 * SAMPLE_BYTES {
        return vec![(0, size)];
    }
    let mid = size / 2 - SAMPLE_BYTES / 2;
    vec![(0, SAMPLE_BYTES), (mid, mid + SAMPLE_BYTES), (size - SAMPLE_BYTES, size)]
}

/// FNV-1a (64 bit) of the sample chunks, as hex: cheap, stable, enough to tell
/// a changed file from the same one (it is no defence against an adversary).
pub fn sample_hash<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for chunk in chunks {
        for &b in chunk {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    // Sixteen hex digits, as `{h:016x}` writes them (without core's formatting).
    (0..16).rev().map(|i| char::from(b"0123456789abcdef"[(h >> (i * 4)) as usize & 15])).collect()
}

/// What to do with the journal entry found for a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// No entry: start a new upload.
    Fresh,
    /// Go on with this upload.
    Resume(Entry),
    /// An init whose answer was never recorded: start the upload with the
    /// entry's client token, so that the backend answers with the upload that
    /// init created (nothing was sent to it: its parts go out from the first).
    Adopt(Entry),
    /// An entry that must not be resumed: abort its upload, drop it, start anew.
    Drop {
        /// The entry.
        entry: Entry,
        /// Why.
        reason: &'static str,
    },
}

/// Decides about `found` for a file whose sample hashes to `sample`, to be
/// sent as `content_type` with checksums of algorithm `checksum` (empty:
/// none).
// Inlined: the reasons, which only the tests read, then leave the module (237 B gzipped).
#[inline(always)]
pub fn decide(
    found: Option<Entry>,
    sample: &str,
    content_type: &str,
    checksum: &str,
    part_size_ok: impl Fn(u64) -> bool,
    now_ms: u64,
    ttl_ms: u64,
) -> Lookup {
    let Some(entry) = found else { return Lookup::Fresh };
    if entry.v != JOURNAL_VERSION {
        Lookup::Drop { entry, reason: "it was written by another version" }
    } else if expired(entry.updated_ms, now_ms, ttl_ms) {
        Lookup::Drop { entry, reason: "it expired" }
    } else if entry.upload_id.is_empty() {
        // Init was on its way: nothing was sent to the upload it may have
        // created, so the file's content does not matter; a backend binds a
        // token to the key, content type and checksum algorithm it came with.
        if entry.token.is_empty() {
            Lookup::Drop { entry, reason: "its init's answer was never recorded" }
        } else if entry.token.len() != 32 || !entry.token.bytes().all(|b| b.is_ascii_hexdigit()) {
            // Not what this client writes (32 random hex digits): an entry
            // altered in the storage, which a backend would refuse.
            Lookup::Drop { entry, reason: "its token is not one this client makes" }
        } else if entry.content_type != content_type || entry.checksum != checksum {
            Lookup::Drop { entry, reason: "its init asked for another content type or other checksums" }
        } else {
            Lookup::Adopt(entry)
        }
    } else if entry.sample != sample {
        Lookup::Drop { entry, reason: "the file's content changed under the same name, size and date" }
    } else if entry.checksum != checksum {
        Lookup::Drop { entry, reason: "it was started with other checksums than the upload's" }
    } else if !part_size_ok(entry.part_size) {
        Lookup::Drop { entry, reason: "its part size does not fit the file" }
    } else {
        Lookup::Resume(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(sample: &str, updated_ms: u64) -> Entry {
        Entry {
            v: JOURNAL_VERSION,
            id: entry_id("/api", "k", "f.bin", 10, 5),
            endpoint: "/api".into(),
            key: "k".into(),
            name: "f.bin".into(),
            size: 10,
            last_modified: 5,
            sample: sample.into(),
            upload_id: "u".into(),
            part_size: 8 << 20,
            grown_from: 0,
            grown_size: 0,
            content_type: "application/octet-stream".into(),
            created_ms: 0,
            updated_ms,
            parts: vec![(1, "\"a\"".into())],
            checksum: "CRC32".into(),
            token: "0123456789abcdef0123456789abcdef".into(),
        }
    }

    const CT: &str = "application/octet-stream";

    #[test]
    fn lookups() {
        let ok = |_| true;
        let day = 24 * 3600 * 1000;
        assert_eq!(decide(None, "s", CT, "CRC32", ok, 0, DEFAULT_TTL_MS), Lookup::Fresh);
        assert_eq!(
            decide(Some(entry("s", day)), "s", CT, "CRC32", ok, 2 * day, DEFAULT_TTL_MS),
            Lookup::Resume(entry("s", day))
        );
        let cases = [
            (entry("other", day), 2 * day, "content changed"),
            (entry("s", 0), 8 * day, "expired"),
            (Entry { v: 0, ..entry("s", day) }, 2 * day, "another version"),
        ];
        for (e, now, why) in cases {
            let Lookup::Drop { reason, .. } = decide(Some(e), "s", CT, "CRC32", ok, now, DEFAULT_TTL_MS) else {
                panic!("{why}")
            };
            assert!(reason.contains(why), "{reason}");
        }
        let Lookup::Drop { reason, .. } =
            decide(Some(entry("s", day)), "s", CT, "CRC32", |_| false, day, DEFAULT_TTL_MS)
        else {
            panic!("part size")
        };
        assert!(reason.contains("part size"));
        // Checksums on one side only: not resumed either way.
        for (stored, wanted) in [("", "CRC32"), ("CRC32", "")] {
            let e = Entry { checksum: stored.into(), ..entry("s", day) };
            let Lookup::Drop { reason, .. } = decide(Some(e), "s", CT, wanted, ok, day, DEFAULT_TTL_MS) else {
                panic!("{stored:?} resumed with {wanted:?}")
            };
            assert!(reason.contains("checksums"), "{reason}");
        }
        // An entry written before checksums and tokens existed reads as "none".
        let mut json: serde_json::Value = serde_json::from_str(&entry("s", day).to_json()).expect("json");
        json.as_object_mut().expect("object").remove("checksum");
        json.as_object_mut().expect("object").remove("token");
        let old = Entry::from_json(&json.to_string()).expect("old entry");
        assert_eq!((old.checksum.as_str(), old.token.as_str()), ("", ""));
    }

    #[test]
    fn an_init_on_its_way_is_asked_again_with_its_token() {
        let ok = |_| true;
        let day = 24 * 3600 * 1000;
        let pending = Entry {
            upload_id: String::new(),
            part_size: 0,
            parts: Vec::new(),
            sample: String::new(),
            ..entry("s", day)
        };
        // The content sample is not known yet when init goes out, and nothing
        // was sent: any sample adopts the token.
        assert_eq!(
            decide(Some(pending.clone()), "other", CT, "CRC32", ok, day + 1, DEFAULT_TTL_MS),
            Lookup::Adopt(pending.clone())
        );
        // What the backend bound the token to must not change, and an entry
        // without a token (or an expired one) has nothing to adopt.
        let cases = [
            (Entry { token: String::new(), ..pending.clone() }, CT, "CRC32", day, "never recorded"),
            (pending.clone(), "text/plain", "CRC32", day, "content type"),
            (pending.clone(), CT, "", day, "checksums"),
            (pending.clone(), CT, "CRC32", 9 * day, "expired"),
            (Entry { token: "t0k3n".into(), ..pending.clone() }, CT, "CRC32", day, "not one this client makes"),
            (
                Entry { token: "0123456789abcdef0123456789abcde\"".into(), ..pending.clone() },
                CT,
                "CRC32",
                day,
                "not one",
            ),
        ];
        for (e, ct, checksum, now, why) in cases {
            let Lookup::Drop { reason, .. } = decide(Some(e), "s", ct, checksum, ok, now, DEFAULT_TTL_MS) else {
                panic!("{why}: adopted")
            };
            assert!(reason.contains(why), "{reason}");
        }
    }

    #[test]
    fn samples() {
        assert_eq!(sample_ranges(0), vec![(0, 0)]);
        assert_eq!(sample_ranges(100), vec![(0, 100)]);
        let s = 10 << 20;
        let r = sample_ranges(s);
        assert_eq!(r.len(), 3);
        assert!(r.iter().all(|(a, b)| b - a == SAMPLE_BYTES && *b <= s));
        assert_eq!(sample_hash([&b""[..]]), "cbf29ce484222325", "FNV-1a offset basis");
        assert_eq!(sample_hash([&b"a"[..]]), "af63dc4c8601ec8c", "FNV-1a of \"a\"");
        assert_ne!(sample_hash([&b"ab"[..]]), sample_hash([&b"ba"[..]]));
        assert_eq!(sample_hash([&b"ab"[..]]), sample_hash([&b"a"[..], &b"b"[..]]), "chunking does not matter");
    }

    #[test]
    fn entries_round_trip_as_json() {
        let e = entry("s", 1);
        assert_eq!(Entry::from_json(&e.to_json()).expect("parse"), e);
        // The form serde wrote before (entries of earlier versions, still in
        // browsers' storage), field by field.
        let earlier = r#"{"v":1,"id":"i","endpoint":"http://e","key":"k","name":"n","size":10,"last_modified":5,
            "sample":"s","upload_id":"u","part_size":8,"content_type":"t","created_ms":1,"updated_ms":2,
            "parts":[[1,"\"a\""],[2,"\"b\""]],"checksum":"CRC32"}"#;
        let read = Entry::from_json(earlier).expect("an earlier entry");
        assert_eq!(
            (read.size, read.parts.len(), read.parts[1].1.as_str(), read.checksum.as_str()),
            (10, 2, "\"b\"", "CRC32")
        );
        assert_eq!(read.part_sizes(), (8, None), "an earlier entry's parts did not grow");
        assert_eq!(Entry::from_json(&read.to_json()), Some(read));
        // Grown parts: kept, read back; a first part no plan has reads as 0.
        let grown = Entry { grown_from: 8, grown_size: 24 << 20, ..entry("s", 1) };
        assert_eq!(Entry::from_json(&grown.to_json()).expect("parse").part_sizes(), (8 << 20, Some((8, 24 << 20))));
        assert_eq!(Entry { grown_from: 70_000, ..grown.clone() }.part_sizes(), (8 << 20, Some((0, 24 << 20))));
        for bad in [r#"{"v":1}"#, "[]", "x", r#"{"v":1,"parts":[[70000,"e"]]}"#] {
            assert_eq!(Entry::from_json(bad), None, "{bad}");
        }
    }
}
