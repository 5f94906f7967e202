//! Engine errors become the JS `UploadError` here, once.

#[allow(unused_imports)]
use crate::prelude::*;

use wasm_bindgen::prelude::*;

use crate::engine::UploadError;

#[wasm_bindgen(inline_js = r#"
export class UploadError extends Error {
  constructor(message, code, status, partNumber, field, cause) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'UploadError';
    this.code = code;
    this.status = status;
    this.partNumber = partNumber;
    this.field = field;
  }
}
export function makeUploadError(message, code, status, partNumber, field, cause) {
  return new UploadError(message, code, status, partNumber, field, cause);
}
export function clientToken() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => (b | 256).toString(16).slice(1)).join('');
}
"#)]
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
