//! Engine errors become the JS `UploadError` (src/glue.js) here, once.

#[allow(unused_imports)]
use crate::prelude::*;

use wasm_bindgen::prelude::*;

use crate::engine::UploadError;

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    /// 32 hex digits from `crypto.getRandomValues`: an upload's init token.
    #[wasm_bindgen(js_name = clientToken)]
    pub(crate) fn client_token() -> String;

    #[wasm_bindgen(js_name = makeUploadError)]
    fn make_upload_error(
        message: &str,
        code: &str,
        status: JsValue,
        part_number: JsValue,
        field: JsValue,
        cause: JsValue,
    ) -> JsValue;
}

/// The JS `UploadError` for an engine error.
pub(crate) fn to_js_error(e: &UploadError) -> JsValue {
    let opt_num = |n: Option<u16>| n.map_or(JsValue::NULL, JsValue::from);
    make_upload_error(
        &e.message,
        e.code.as_str(),
        opt_num(e.status),
        opt_num(e.part_number),
        e.field.as_deref().map_or(JsValue::NULL, JsValue::from_str),
        e.cause.as_deref().map_or(JsValue::UNDEFINED, JsValue::from_str),
    )
}
