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
