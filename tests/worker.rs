//! The client inside a dedicated Web Worker: it never assumes `window`.
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[wasm_bindgen_test]
async fn uploads_from_a_dedicated_worker() {
    assert!(
        js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("window")).expect("global").is_undefined(),
        "in a worker"
    );
    for (size, multipart) in [(1000, false), (12 * MIB, true)] {
        let up = uploader(&[]);
        let data = bytes(size, 30 + size as u64);
        let (key, result, _) = upload_ok(&up, "worker.bin", &data).await;
        assert_eq!(get(&result, "uploadId").is_string(), multipart);
        assert_eq!(sha(&read_back(&key).await), sha(&data));
    }
}

/// In a worker the journal lives in IndexedDB (there is no `localStorage`):
/// an interrupted upload is resumed there too.
#[wasm_bindgen_test]
async fn a_worker_resumes_from_its_indexeddb_journal() {
    use wasm_bindgen_futures::JsFuture;

    let up = one_at_a_time();
    let key = unique_key("worker-resume.bin");
    let data = bytes(20 * MIB, 46);
    let f = file(&data, "worker-resume.bin", 1_670_000_000_000.0);
    let _ = interrupted(&up, &f, &key, 1).await;
    let (on_resume, resumed) = on_resume();
    let (opts, _) = recording(&key, &[("onResume", on_resume)]);
    let result = JsFuture::from(up.upload(&f, opts)).await.expect("resumed upload finishes");
    let info = resumed.borrow().clone().expect("onResume was called");
    assert!(num(&info, "partsDone") >= 1.0);
    assert_eq!(string(&info, "uploadId"), string(&result, "uploadId"), "the same multipart upload went on");
    assert_eq!(sha(&read_back(&key).await), sha(&data));
}

/// The sweep of expired journal entries works on the worker's IndexedDB
/// journal too: an entry untouched for 8 days has its upload aborted and is
/// forgotten when the next `Uploader` is made.
#[wasm_bindgen_test]
async fn a_worker_sweeps_its_expired_journal_entries() {
    let up = one_at_a_time();
    let key = unique_key("worker-expired.bin");
    let f = file(&bytes(12 * MIB, 49), "worker-expired.bin", 4.0);
    let entry = interrupted(&up, &f, &key, 1).await;
    assert_eq!(open_uploads(&key).await, 1);
    age_journal_entry(&string(&entry, "id").expect("id"), 8.0 * 24.0 * 3600.0 * 1000.0).await;
    let _next = uploader(&[]);
    assert_eq!(open_uploads_soon(&key).await, 0, "the expired upload was aborted");
    assert!(left_the_journal(&up, &key).await, "and its entry forgotten");
}
