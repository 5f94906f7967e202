//! The client in real headless Chromium (`wasm-pack test --headless --chrome`)
//! against a running reference server, whose URL is given at build time in
//! `S3MP_TEST_API` (scripts/test.sh starts the server and sets it). Every
//! object is read back from the store and compared by SHA-256.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use s3_multipart_wasm::Uploader;
use sha2::{Digest, Sha256};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::Blob;

wasm_bindgen_test_configure!(run_in_browser);

const MIB: usize = 1024 * 1024;

fn api() -> &'static str {
    option_env!("S3MP_TEST_API").unwrap_or("http://127.0.0.1:8080")
}

/// Deterministic bytes (xorshift), different per seed.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        out.extend_from_slice(&s.to_le_bytes()[..(len - out.len()).min(8)]);
    }
    out
}

fn blob(data: &[u8]) -> Blob {
    let arr = Array::new();
    arr.push(&Uint8Array::from(data));
    Blob::new_with_u8_array_sequence(&arr).expect("blob")
}

fn sha(data: &[u8]) -> String {
    format!("{:x}", Sha256::digest(data))
}

fn obj(fields: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in fields {
        Reflect::set(&o, &JsValue::from_str(k), v).expect("set");
    }
    o.into()
}

fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(k)).expect("get")
}

fn unique_key(name: &str) -> String {
    format!("wasm-tests/{}-{name}", (js_sys::Math::random() * 1e12) as u64)
}

/// Reads an object back through the backend's download URL.
async fn read_back(uploader: &Uploader, key: &str) -> Vec<u8> {
    let url = JsFuture::from(uploader.download_url(key.to_owned())).await.expect("download url");
    let url = url.as_string().expect("url string");
    let resp = JsFuture::from(fetch(&url)).await.expect("GET object");
    let resp: web_sys::Response = resp.unchecked_into();
    assert_eq!(resp.status(), 200, "GET {key}");
    let buf = JsFuture::from(resp.array_buffer().expect("body")).await.expect("bytes");
    Uint8Array::new(&buf).to_vec()
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn fetch(url: &str) -> Promise;
}

fn uploader(extra: &[(&str, JsValue)]) -> Uploader {
    let mut fields = vec![("endpoint", JsValue::from_str(api()))];
    fields.extend(extra.iter().cloned());
    Uploader::new(obj(&fields)).expect("valid options")
}

/// Uploads `data` under a fresh key; returns (result, progress samples of bytesSent).
async fn upload(up: &Uploader, name: &str, data: &[u8]) -> (String, JsValue, Vec<f64>) {
    let key = unique_key(name);
    let samples = Rc::new(RefCell::new(Vec::new()));
    let s2 = samples.clone();
    let on_progress = Closure::<dyn Fn(JsValue)>::new(move |p: JsValue| {
        s2.borrow_mut().push(get(&p, "bytesSent").as_f64().expect("bytesSent"));
    });
    let opts = obj(&[("key", JsValue::from_str(&key)), ("onProgress", on_progress.as_ref().clone())]);
    let result = JsFuture::from(up.upload(&blob(data), opts)).await;
    let result = match result {
        Ok(r) => r,
        Err(e) => panic!("upload of {name} failed: {:?}", get(&e, "message").as_string()),
    };
    let samples = samples.borrow().clone();
    (key, result, samples)
}

async fn roundtrip(size: usize, seed: u64, multipart: bool) {
    let up = uploader(&[]);
    let data = bytes(size, seed);
    let (key, result, progress) = upload(&up, &format!("{size}.bin"), &data).await;
    assert_eq!(get(&result, "key").as_string().as_deref(), Some(key.as_str()));
    assert_eq!(get(&result, "size").as_f64(), Some(size as f64));
    assert_eq!(get(&result, "uploadId").is_null(), !multipart, "multipart for {size} bytes: {multipart}");
    assert!(get(&result, "location").as_string().is_some_and(|l| l.ends_with(&key)));
    for w in progress.windows(2) {
        assert!(w[1] >= w[0], "progress went back: {progress:?}");
    }
    assert_eq!(progress.last().copied(), Some(size as f64), "progress ends at the size");
    let stored = read_back(&up, &key).await;
    assert_eq!(stored.len(), size);
    assert_eq!(sha(&stored), sha(&data), "stored object of {size} bytes is intact");
}

#[wasm_bindgen_test]
async fn empty_blob() {
    roundtrip(0, 1, false).await;
}

#[wasm_bindgen_test]
async fn one_byte() {
    roundtrip(1, 2, false).await;
}

#[wasm_bindgen_test]
async fn five_mib() {
    roundtrip(5 * MIB, 3, false).await;
}

#[wasm_bindgen_test]
async fn five_mib_and_one_byte() {
    roundtrip(5 * MIB + 1, 4, false).await;
}

#[wasm_bindgen_test]
async fn thirty_three_mib_multipart() {
    roundtrip(33 * MIB, 5, true).await;
}

#[wasm_bindgen_test]
async fn small_parts_force_multipart_at_five_mib_and_one_byte() {
    let up = uploader(&[("partSize", JsValue::from(5 * MIB as u32)), ("multipartThreshold", JsValue::from(0))]);
    let data = bytes(5 * MIB + 1, 6);
    let (key, result, _) = upload(&up, "two-parts.bin", &data).await;
    assert!(get(&result, "uploadId").is_string(), "went multipart");
    assert!(
        get(&result, "etag").as_string().is_some_and(|e| e.ends_with("-2\"")),
        "two parts: {:?}",
        get(&result, "etag")
    );
    assert_eq!(sha(&read_back(&up, &key).await), sha(&data));
}

#[wasm_bindgen_test]
async fn invalid_options_are_named() {
    let cases: Vec<(JsValue, &str)> = vec![
        (obj(&[]), "endpoint"),
        (obj(&[("endpoint", JsValue::from_str(api())), ("concurrency", JsValue::from(0))]), "concurrency"),
        (obj(&[("endpoint", JsValue::from_str(api())), ("partSize", JsValue::from(1024))]), "partSize"),
        (obj(&[("endpoint", JsValue::from_str(api())), ("partsize", JsValue::from(1024))]), "partsize"),
        (obj(&[("endpoint", JsValue::from_str(api())), ("protocol", JsValue::from_str("soap"))]), "protocol"),
        (obj(&[("endpoint", JsValue::from_str(api())), ("retryDelays", JsValue::from_str("1s"))]), "retryDelays"),
    ];
    for (opts, field) in cases {
        let err = match Uploader::new(opts) {
            Ok(_) => panic!("{field}: accepted"),
            Err(e) => e,
        };
        assert!(err.is_instance_of::<js_sys::Error>());
        assert_eq!(get(&err, "name").as_string().as_deref(), Some("UploadError"));
        assert_eq!(get(&err, "code").as_string().as_deref(), Some("InvalidOptions"));
        assert_eq!(get(&err, "field").as_string().as_deref(), Some(field));
        let msg = get(&err, "message").as_string().expect("message");
        assert!(msg.contains(field), "{msg}");
    }
    // upload() rejects (never throws) on a bad key
    let up = uploader(&[]);
    let err = JsFuture::from(up.upload(&blob(b"x"), obj(&[]))).await.expect_err("no key");
    assert_eq!(get(&err, "field").as_string().as_deref(), Some("key"));
}

#[wasm_bindgen_test]
async fn backend_refusal_is_a_backend_error_with_the_backend_message() {
    let up = uploader(&[("multipartThreshold", JsValue::from(0))]);
    let opts = obj(&[("key", JsValue::from_str("bad/../key"))]);
    let err = JsFuture::from(up.upload(&blob(b"data"), opts)).await.expect_err("refused");
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("BackendError"));
    assert_eq!(get(&err, "status").as_f64(), Some(400.0));
    let msg = get(&err, "message").as_string().expect("message");
    assert!(msg.contains("InvalidKey"), "{msg}");
}

#[wasm_bindgen_test]
async fn unreachable_backend_is_a_network_failure_after_retries() {
    let up = Uploader::new(obj(&[
        ("endpoint", JsValue::from_str("http://127.0.0.1:9/api")),
        ("retryDelays", Array::of2(&JsValue::from(0), &JsValue::from(10)).into()),
    ]))
    .expect("options");
    let retries = Rc::new(RefCell::new(0));
    let r2 = retries.clone();
    let on_retry = Closure::<dyn Fn(JsValue)>::new(move |_| *r2.borrow_mut() += 1);
    let opts = obj(&[("key", JsValue::from_str("k")), ("onRetry", on_retry.as_ref().clone())]);
    let err = JsFuture::from(up.upload(&blob(b"data"), opts)).await.expect_err("unreachable");
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("BackendError"));
    assert_eq!(*retries.borrow(), 2, "retried as the delays say, then gave up");
}

#[wasm_bindgen_test]
async fn abort_rejects_with_aborted() {
    let up = uploader(&[("multipartThreshold", JsValue::from(0))]);
    let data = bytes(24 * MIB, 9);
    let handle = up.upload(&blob(&data), obj(&[("key", JsValue::from_str(&unique_key("aborted")))]));
    let abort: Function = get(&handle, "abort").unchecked_into();
    abort.call0(&handle).expect("abort()");
    let err = JsFuture::from(handle).await.expect_err("aborted");
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("Aborted"));
}
