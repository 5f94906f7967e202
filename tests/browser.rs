//! The client in real headless Chromium (`wasm-pack test --headless --chrome`)
//! against running reference servers, whose URLs are given at build time
//! (scripts/test.sh starts them). Every object is read back from the store and
//! compared by SHA-256.
#![cfg(target_arch = "wasm32")]

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::*;
use js_sys::{Array, Function, Promise};
use s3_multipart_wasm::Uploader;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn roundtrip(size: usize, seed: u64, multipart: bool) {
    let up = uploader(&[]);
    let data = bytes(size, seed);
    let (key, result, _) = upload_ok(&up, &format!("{size}.bin"), &data).await;
    assert_eq!(get(&result, "uploadId").is_null(), !multipart, "multipart for {size} bytes: {multipart}");
    assert!(string(&result, "location").is_some_and(|l| l.ends_with(&key)), "{:?}", string(&result, "location"));
    let stored = read_back(&key).await;
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
async fn part_size_and_threshold_options() {
    let up = uploader(&[("partSize", JsValue::from(5 * MIB as u32)), ("multipartThreshold", JsValue::from(0))]);
    let data = bytes(5 * MIB + 1, 6);
    let (key, result, report) = upload_ok(&up, "two-parts.bin", &data).await;
    assert!(get(&result, "uploadId").is_string(), "went multipart");
    assert!(string(&result, "etag").is_some_and(|e| e.ends_with("-2\"")), "two parts: {:?}", string(&result, "etag"));
    let mut parts = report.parts.clone();
    parts.sort_by(f64::total_cmp);
    assert_eq!(parts, vec![1.0, 2.0], "onPartComplete for each part");
    assert_eq!(sha(&read_back(&key).await), sha(&data));
}

#[wasm_bindgen_test]
async fn concurrency_bounds_the_puts_in_flight() {
    track_xhr();
    for (concurrency, at_least) in [(1, 1), (2, 2), (6, 3)] {
        track_xhr();
        let up = uploader(&[("partSize", JsValue::from(5 * MIB as u32)), ("concurrency", JsValue::from(concurrency))]);
        let data = bytes(8 * 5 * MIB, 7);
        let (key, _, _) = upload_ok(&up, "concurrency.bin", &data).await;
        let stats = xhr_stats();
        let max = num(&stats, "max");
        assert!(max <= f64::from(concurrency), "{max} PUTs in flight with concurrency {concurrency}");
        assert!(max >= f64::from(at_least), "concurrency {concurrency} was used: {max} in flight at most");
        assert_eq!(num(&stats, "puts"), 8.0, "one PUT per part");
        assert_eq!(sha(&read_back(&key).await), sha(&data));
    }
}

#[wasm_bindgen_test]
async fn without_a_concurrency_the_window_adapts_within_its_bounds() {
    track_xhr();
    let up = uploader(&[("partSize", JsValue::from(5 * MIB as u32))]);
    let data = bytes(16 * 5 * MIB + 3, 8);
    let (key, _, _) = upload_ok(&up, "adaptive.bin", &data).await;
    let stats = xhr_stats();
    let max = num(&stats, "max");
    // It starts at the browser's 6 connections per host and never goes past
    // them (at least 4 PUTs overlap while the first parts go).
    assert!((4.0..=6.0).contains(&max), "{max} PUTs in flight with the adaptive window");
    assert_eq!(num(&stats, "puts"), 17.0, "one PUT per part");
    assert_eq!(sha(&read_back(&key).await), sha(&data));
}

#[wasm_bindgen_test]
async fn concurrency_bounds_keep_the_adaptive_window_between_them() {
    // { max }: never above it; { min }: never below it (the window starts at its top).
    for (bounds, lo, hi) in
        [(obj(&[("max", JsValue::from(3))]), 3.0, 3.0), (obj(&[("min", JsValue::from(5))]), 5.0, 6.0)]
    {
        track_xhr();
        let up = uploader(&[("partSize", JsValue::from(5 * MIB as u32)), ("concurrency", bounds)]);
        let data = bytes(12 * 5 * MIB + 1, 9);
        let (key, _, _) = upload_ok(&up, "bounded.bin", &data).await;
        let max = num(&xhr_stats(), "max");
        assert!((lo..=hi).contains(&max), "{max} PUTs in flight, bounds {lo}..{hi}");
        assert_eq!(sha(&read_back(&key).await), sha(&data));
    }
}

/// The number of parts in a multipart ETag (`"…-N"`).
fn parts_in(result: &JsValue) -> Option<u32> {
    string(result, "etag")?.trim_matches('"').rsplit_once('-')?.1.parse().ok()
}

#[wasm_bindgen_test]
async fn the_engine_picks_the_part_size_within_its_bounds() {
    // Not given: 5..10 MiB, one part per stream for a medium file (the
    // window starts at 6): 20 MiB goes as 4 parts of 5 MiB, not 3 of 8; up
    // to 16 MiB for a file that goes so in one round: 64 MiB as 6 parts of
    // 11 MiB, not 7 of 10 (the 7th alone after the others); more than a
    // round, whole rounds of parts of 10 MiB or more: 128 MiB as 12 parts
    // of 10.6875 MiB, not 13 of 10 (the 13th alone).
    // `{ min, max }`: within them (64 MiB, 6 streams: 11 MiB wanted, 7 at
    // most: 10 parts; 10 at most, the engine's own bound given: 7 parts;
    // 16 at most: 6 parts; a min alone: the engine's maximum, 6 parts).
    let bounds = |min: Option<usize>, max: usize| {
        let mut b = vec![("max", JsValue::from(max as u32))];
        b.extend(min.map(|m| ("min", JsValue::from(m as u32))));
        Some(obj(&b))
    };
    let cases = [
        (None, 20 * MIB, 4),
        (None, 64 * MIB, 6),
        (None, 128 * MIB, 12),
        (bounds(Some(6 * MIB), 7 * MIB), 64 * MIB, 10),
        (bounds(None, 10 * MIB), 64 * MIB, 7),
        (bounds(None, 16 * MIB), 64 * MIB, 6),
        // `{ min }` alone: the engine's own maximum, one round as above.
        (Some(obj(&[("min", JsValue::from(6 * MIB as u32))])), 64 * MIB, 6),
    ];
    for (i, (part_size, size, parts)) in cases.into_iter().enumerate() {
        let up = uploader(&part_size.map(|b| ("partSize", b)).into_iter().collect::<Vec<_>>());
        let data = bytes(size, 40 + i as u64);
        let (key, result, _) = upload_ok(&up, "picked.bin", &data).await;
        assert_eq!(parts_in(&result), Some(parts), "case {i}: etag {:?}", string(&result, "etag"));
        assert_eq!(sha(&read_back(&key).await), sha(&data));
    }
}

/// Calls of `name` in the tracked fetches.
fn calls_of(stats: &JsValue, name: &str) -> f64 {
    get(&get(stats, "calls"), name).as_f64().unwrap_or(0.0)
}

#[wasm_bindgen_test]
async fn parts_signed_together_take_one_call_and_a_backend_without_it_gets_one_per_part() {
    // A backend without the call: 404, a page for any path (200), API Gateway's 403, its 502 for a Lambda that throws.
    for refuse in [JsValue::FALSE, JsValue::TRUE, "page".into(), "forbidden".into(), "crash".into()] {
        track_xhr();
        set_refuse_batch(refuse.clone());
        // Without checksums the first parts are signed the moment init answers, together.
        let up = uploader(&[
            ("partSize", JsValue::from(5 * MIB as u32)),
            ("concurrency", JsValue::from(4)),
            ("checksum", JsValue::from_str("none")),
        ]);
        let data = bytes(8 * 5 * MIB, 9);
        let (key, _, report) = upload_ok(&up, "batched.bin", &data).await;
        // A batch the backend does not take costs no retry: its parts ask alone at once.
        assert!(report.retries.is_empty(), "{} retries ({refuse:?})", report.retries.len());
        set_refuse_batch(false.into());
        let stats = xhr_stats();
        let (one, many) = (calls_of(&stats, "part-url"), calls_of(&stats, "part-urls"));
        if refuse.as_string().as_deref() == Some("crash") {
            // Each 5xx'd call's parts asked for alone (part-urls tried again in later rounds).
            assert!(many >= 1.0 && one == 8.0, "part-urls {many}, part-url {one} ({refuse:?})");
        } else if refuse.is_truthy() {
            // Tried once, refused: every part then asked for alone (those of the refused call again).
            assert_eq!((many, one), (1.0, 8.0), "part-urls {many}, part-url {one} ({refuse:?})");
        } else {
            // The first parts are signed in one call.
            assert!(many >= 1.0 && one < 8.0, "part-urls {many}, part-url {one}: fewer calls than parts");
        }
        assert_eq!(sha(&read_back(&key).await), sha(&data));
    }
}

/// Init signs the first parts in its own round trip: with checksums off, an
/// upload of no more parts than streams makes no signing call at all. A
/// backend whose parser refuses init's `parts` (a 400) gets init again
/// without them, and the uploader's later inits carry none (each part is
/// then signed by part-urls).
#[wasm_bindgen_test]
async fn init_signs_the_first_parts_and_a_backend_refusing_the_field_gets_init_without_them() {
    let opts = [
        ("partSize", JsValue::from(5 * MIB as u32)),
        ("concurrency", JsValue::from(4)),
        ("checksum", JsValue::from_str("none")),
    ];
    let data = bytes(3 * 5 * MIB + 1234, 41);
    let counts = |stats: &JsValue| {
        ["init", "initWithParts", "part-url", "part-urls", "complete"].map(|name| calls_of(stats, name))
    };
    track_xhr();
    let (key, _, _) = upload_ok(&uploader(&opts), "init-signs.bin", &data).await;
    assert_eq!(counts(&xhr_stats()), [1.0, 0.0, 0.0, 0.0, 1.0], "init, part-url(s), complete: init signed all 4 parts");
    assert_eq!(sha(&read_back(&key).await), sha(&data));
    track_xhr();
    set_refuse_init_parts(true);
    let strict = uploader(&opts);
    let (first, _, report) = upload_ok(&strict, "init-strict-1.bin", &data).await;
    let after_first = counts(&xhr_stats());
    let (second, _, _) = upload_ok(&strict, "init-strict-2.bin", &data).await;
    let after_second = counts(&xhr_stats());
    set_refuse_init_parts(false);
    assert!(report.retries.is_empty(), "the refusal costs no retry");
    assert_eq!(after_first[..2], [2.0, 1.0], "init refused with parts, asked again without: {after_first:?}");
    assert!(after_first[3] >= 1.0, "the parts signed by part-urls: {after_first:?}");
    assert_eq!(after_second[..2], [3.0, 1.0], "the next init carries no parts: {after_second:?}");
    for key in [first, second] {
        assert_eq!(sha(&read_back(&key).await), sha(&data));
    }
}

/// Small files (each one PUT) handed over together are signed several at a
/// time (`urls`); each gets its own URL, its own checksum and content type,
/// and a file the backend refuses fails alone. A backend without the call
/// (404, a page for any path, API Gateway's 403, a 5xx) signs them one by one,
/// from then on.
#[wasm_bindgen_test]
async fn small_files_together_are_signed_together_and_a_backend_without_it_signs_each() {
    const FILES: usize = 24;
    // Another endpoint (the same server under /api, or as localhost) for each
    // case: a backend found without the call is remembered as such for the
    // page's life.
    let other_host = api().replace("127.0.0.1", "localhost");
    for (refuse, endpoint) in [
        (JsValue::FALSE, api().to_owned()),
        (JsValue::TRUE, format!("{}/api", api())),
        ("page".into(), other_host.clone()),
        ("forbidden".into(), format!("{other_host}/api")),
        // (The same host spelt in capitals: another endpoint string, the same server.)
        ("crash".into(), api().replace("127.0.0.1", "LOCALHOST")),
    ] {
        track_xhr();
        set_refuse_batch(refuse.clone());
        // Each single signing takes 100 ms: the next files are hashed and ask meanwhile.
        set_slow_call("url", 100);
        let up = uploader_at(&endpoint, &[]);
        let files: Vec<Vec<u8>> = (0..FILES).map(|i| bytes(2000 + i * 31, 300 + i as u64)).collect();
        // One key the backend refuses ("..": InvalidKey): that file alone fails.
        let keys: Vec<String> = (0..FILES)
            .map(|i| if i == 5 { format!("wasm-tests/../{i}.bin") } else { unique_key(&format!("signed-{i}.bin")) })
            .collect();
        let errors = upload_each(&up, &files, &keys, &[("contentType", JsValue::from_str("text/x-small"))]).await;
        set_refuse_batch(false.into());
        set_slow_call("url", 0);
        let stats = xhr_stats();
        let (one, many) = (calls_of(&stats, "url"), calls_of(&stats, "urls"));
        for (i, (key, data)) in keys.iter().zip(&files).enumerate() {
            if i == 5 {
                let (code, message) = errors[i].clone().expect("the refused key fails");
                assert_eq!(code.as_deref(), Some("BackendError"), "{message:?}");
                assert!(message.as_deref().is_some_and(|m| m.contains("InvalidKey")), "{message:?}");
                continue;
            }
            assert_eq!(errors[i], None, "{key}");
            assert_eq!(sha(&read_back(key).await), sha(data), "{key}");
            assert_eq!(stored_content_type(key).await.as_deref(), Some("text/x-small"), "{key}");
        }
        if refuse.is_falsy() {
            assert!(many >= 1.0 && one + many < FILES as f64 / 2.0, "urls {many}, url {one}: fewer calls than files");
        } else {
            // Tried once, not the batch's reply: every file then alone (those of the refused call again).
            assert_eq!((many, one), (1.0, FILES as f64), "urls {many}, url {one} ({refuse:?})");
        }
    }
}

/// Small files aborted while their signing waits for a batch: they end
/// `Aborted` with nothing stored, the others of the same batch arrive, and
/// a later upload is signed as usual (nothing stays queued).
#[wasm_bindgen_test]
async fn small_files_aborted_while_their_signing_waits_leave_the_others_going() {
    const FILES: usize = 20;
    track_xhr();
    set_slow_call("url", 150);
    let up = uploader(&[]);
    let files: Vec<Vec<u8>> = (0..FILES).map(|i| bytes(1500 + i * 41, 700 + i as u64)).collect();
    let keys: Vec<String> = (0..FILES).map(|i| unique_key(&format!("aborted-{i}.bin"))).collect();
    let handles: Vec<Promise> = files
        .iter()
        .zip(&keys)
        .map(|(data, key)| up.upload(&blob(data), obj(&[("key", JsValue::from_str(key))])))
        .collect();
    // The first two are signed alone (150 ms each); the others wait meanwhile.
    sleep(60).await;
    for h in handles.iter().skip(3).step_by(2) {
        control(h, "abort");
    }
    for (i, h) in handles.into_iter().enumerate() {
        let result = JsFuture::from(h).await;
        if i >= 3 && (i - 3) % 2 == 0 {
            let err = result.expect_err("aborted");
            assert_eq!(string(&err, "code").as_deref(), Some("Aborted"), "file {i}");
            assert_eq!(object_status(&keys[i]).await, 404, "file {i}: nothing stored");
        } else {
            assert!(result.is_ok(), "file {i}: {:?}", result.err().map(|e| string(&e, "message")));
            assert_eq!(sha(&read_back(&keys[i]).await), sha(&files[i]), "file {i}");
        }
    }
    set_slow_call("url", 0);
    let stats = xhr_stats();
    assert!(calls_of(&stats, "urls") >= 1.0, "the waiting files went together");
    let (key, _, _) = upload_ok(&up, "after.bin", &bytes(999, 3)).await;
    assert_eq!(sha(&read_back(&key).await), sha(&bytes(999, 3)));
}

/// Hooks too: a `signPuts` hook signs small files together; an `Error` in
/// its answer fails that file alone; an answer that is not one entry per
/// file fails those files with an error naming it; `signPuts` without
/// `signPut` is refused at once.
#[wasm_bindgen_test]
async fn a_sign_puts_hook_signs_small_files_together_and_a_file_it_refuses_fails_alone() {
    const FILES: usize = 16;
    for short in [false, true] {
        let rest = with_sign_puts(with_sign_put(rest_hooks(api(), &JsValue::UNDEFINED)), short);
        let up = Uploader::new(obj(&[("protocol", get(&rest, "hooks"))])).expect("hooks accepted");
        let files: Vec<Vec<u8>> = (0..FILES).map(|i| bytes(1000 + i * 53, 500 + i as u64)).collect();
        let keys: Vec<String> = (0..FILES)
            .map(|i| if i == 3 { format!("wasm-tests/../{i}.bin") } else { unique_key(&format!("hook-puts-{i}.bin")) })
            .collect();
        let errors = upload_each(&up, &files, &keys, &[]).await;
        let calls: Vec<String> = Array::from(&get(&rest, "calls")).iter().filter_map(|c| c.as_string()).collect();
        let many = calls.iter().filter(|c| c.ends_with("/urls")).count();
        let one = calls.iter().filter(|c| c.ends_with("/url")).count();
        assert!(many >= 1 && one + many < FILES, "signPuts {many}, signPut {one}");
        for (i, (key, data)) in keys.iter().zip(&files).enumerate() {
            match &errors[i] {
                None => assert_eq!(sha(&read_back(key).await), sha(data), "{key}"),
                Some((code, message)) => {
                    // The refused key, or (short) a file of a call answered short.
                    let m = message.clone().unwrap_or_default();
                    assert_eq!(code.as_deref(), Some("BackendError"), "{m}");
                    assert!(i == 3 || (short && m.contains("signPuts must return")), "file {i}: {m}");
                    assert!(i != 3 || m.contains("path segment") || m.contains("signPuts must return"), "{m}");
                }
            }
        }
        assert!(errors[3].is_some(), "the refused key fails");
        let failed = errors.iter().filter(|e| e.is_some()).count();
        if short {
            assert!(failed > 1, "a short answer fails the files of that call");
        } else {
            assert_eq!(failed, 1, "only the refused key fails: {errors:?}");
        }
    }
    let rest = rest_hooks(api(), &JsValue::UNDEFINED);
    let hooks = get(&rest, "hooks");
    let f = js_sys::Function::new_no_args("return []");
    js_sys::Reflect::set(&hooks, &"signPuts".into(), &f).expect("set");
    let err = Uploader::new(obj(&[("protocol", hooks)])).err().expect("refused");
    assert_eq!(string(&err, "code").as_deref(), Some("InvalidOptions"));
    assert!(string(&err, "message").is_some_and(|m| m.contains("signPuts needs signPut")));
}

#[wasm_bindgen_test]
async fn a_sign_parts_hook_signs_the_first_parts_together_and_its_reply_is_checked() {
    let rest = with_sign_parts(rest_hooks(api(), &JsValue::UNDEFINED), false);
    let hooks_of = |rest: &JsValue| {
        Uploader::new(obj(&[
            ("protocol", get(rest, "hooks")),
            ("partSize", JsValue::from(5 * MIB as u32)),
            ("concurrency", JsValue::from(4)),
            ("checksum", JsValue::from_str("none")),
        ]))
        .expect("hooks accepted")
    };
    let data = bytes(6 * 5 * MIB, 21);
    let (key, _, _) = upload_ok(&hooks_of(&rest), "sign-parts.bin", &data).await;
    assert_eq!(sha(&read_back(&key).await), sha(&data));
    let calls: Vec<String> = Array::from(&get(&rest, "calls")).iter().filter_map(|c| c.as_string()).collect();
    let many = calls.iter().filter(|c| c.ends_with("/part-urls")).count();
    let one = calls.iter().filter(|c| c.ends_with("/part-url")).count();
    assert!(many >= 1 && one < 6, "signParts {many}, signPart {one}");
    assert!(calls.contains(&"init:4".to_owned()), "createMultipartUpload signed the first 4 parts: {calls:?}");
    // A reply naming other parts than asked is a BackendError naming the hook
    // (init's URLs naming other parts are not used: the parts go to signParts).
    let liar = with_sign_parts(rest_hooks(api(), &JsValue::UNDEFINED), true);
    let handle = hooks_of(&liar).upload(&blob(&data), obj(&[("key", JsValue::from_str(&unique_key("liar.bin")))]));
    let err = JsFuture::from(handle).await.expect_err("refused");
    assert_eq!(string(&err, "code").as_deref(), Some("BackendError"));
    assert_eq!(string(&err, "field").as_deref(), Some("signParts"));
}

#[wasm_bindgen_test]
async fn three_files_at_once_share_one_budget() {
    track_xhr();
    let up = uploader(&[("partSize", JsValue::from(5 * MIB as u32)), ("concurrency", JsValue::from(3))]);
    let files: Vec<Vec<u8>> = (0..3).map(|i| bytes(21 * MIB + i * 1000, 20 + i as u64)).collect();
    let mut handles = Vec::new();
    let mut keys = Vec::new();
    for (i, data) in files.iter().enumerate() {
        let key = unique_key(&format!("three-{i}.bin"));
        handles.push(up.upload(&blob(data), obj(&[("key", JsValue::from_str(&key))])));
        keys.push(key);
    }
    let all = JsFuture::from(Promise::all(&handles.iter().collect::<Array>())).await.expect("all three finish");
    assert_eq!(Array::from(&all).length(), 3);
    let max = num(&xhr_stats(), "max");
    assert!(max <= 3.0, "{max} PUTs in flight across three uploads sharing concurrency 3");
    for (key, data) in keys.iter().zip(&files) {
        assert_eq!(sha(&read_back(key).await), sha(data), "{key}");
    }
}

/// Files handed over together start in turns: `upload()` touches no File,
/// and a File whose `size` is slow to answer (as Chromium's are: a
/// synchronous call to the browser process) does not hold the page's thread
/// for all of them in one task; every file arrives intact.
#[wasm_bindgen_test]
async fn many_files_handed_over_at_once_start_in_turns_and_all_arrive() {
    const FILES: usize = 30;
    let kit = js_sys::eval(
        r#"(() => {
          const log = { reads: 0 };
          class SlowBlob extends Blob {
            get size() {
              log.reads += 1;
              const t = performance.now();
              while (performance.now() - t < 2) { /* a slow answer */ }
              return super.size;
            }
          }
          return { log, make: (bytes) => new SlowBlob([bytes]) };
        })()"#,
    )
    .expect("kit");
    let make: Function = js_sys::Reflect::get(&kit, &"make".into()).expect("make").unchecked_into();
    let log = js_sys::Reflect::get(&kit, &"log".into()).expect("log");
    let reads = || num(&log, "reads") as usize;
    let up = uploader(&[]);
    let files: Vec<Vec<u8>> = (0..FILES).map(|i| bytes(3000 + i * 17, 90 + i as u64)).collect();
    let mut handles = Vec::new();
    let mut keys = Vec::new();
    for (i, data) in files.iter().enumerate() {
        let f: web_sys::Blob =
            make.call1(&JsValue::NULL, &js_sys::Uint8Array::from(data.as_slice())).expect("blob").unchecked_into();
        let key = unique_key(&format!("turns-{i}.bin"));
        handles.push(up.upload(&f, obj(&[("key", JsValue::from_str(&key))])));
        keys.push(key);
    }
    assert_eq!(reads(), 0, "upload() reads no file's size before its turn");
    // A task queued now runs before most starts: they do not all happen in one task.
    let at_next_task = JsFuture::from(Promise::new(&mut |resolve, _| {
        let log = log.clone();
        let f = Closure::once_into_js(move || {
            let _ = resolve.call1(&JsValue::NULL, &js_sys::Reflect::get(&log, &"reads".into()).expect("reads"));
        });
        let _ = web_sys::window().expect("window").set_timeout_with_callback(f.unchecked_ref());
    }))
    .await
    .expect("timer")
    .as_f64()
    .unwrap_or(0.0) as usize;
    assert!(at_next_task <= FILES * 2 / 3, "{at_next_task} of {FILES} files started before the next task");
    let all = JsFuture::from(Promise::all(&handles.iter().collect::<Array>())).await.expect("all finish");
    assert_eq!(Array::from(&all).length() as usize, FILES);
    assert_eq!(reads(), FILES, "each file's size read once");
    for (key, data) in keys.iter().zip(&files) {
        assert_eq!(sha(&read_back(key).await), sha(data), "{key}");
    }
}

#[wasm_bindgen_test]
async fn pause_and_resume_in_the_middle() {
    let up = uploader(&[("partSize", JsValue::from(5 * MIB as u32)), ("concurrency", JsValue::from(2))]);
    let data = bytes(40 * MIB, 8);
    let key = unique_key("paused.bin");
    let (opts, report) = recording(&key, &[]);
    let handle = up.upload(&blob(&data), opts);
    // Wait until a part is done, then pause.
    wait_parts(&report, 1).await;
    control(&handle, "pause");
    sleep(50).await;
    let at_pause = report.borrow().progress.last().copied().unwrap_or(0.0);
    assert!(at_pause < 40.0 * MIB as f64, "paused before the end");
    sleep(600).await;
    let later = report.borrow().progress.last().copied().unwrap_or(0.0);
    assert_eq!(later, at_pause, "no progress while paused");
    control(&handle, "resume");
    let result = JsFuture::from(handle).await.expect("finishes after resume");
    assert_eq!(num(&result, "size"), data.len() as f64);
    let progress = report.borrow().progress.clone();
    assert!(progress.windows(2).all(|w| w[1] >= w[0]), "monotonic through pause");
    assert_eq!(sha(&read_back(&key).await), sha(&data));
}

#[wasm_bindgen_test]
async fn abort_deletes_the_multipart_upload() {
    let up = uploader(&[("partSize", JsValue::from(5 * MIB as u32)), ("concurrency", JsValue::from(2))]);
    let data = bytes(40 * MIB, 9);
    let prefix = unique_key("abort");
    let key = format!("{prefix}/file.bin");
    let (opts, report) = recording(&key, &[]);
    let handle = up.upload(&blob(&data), opts);
    wait_parts(&report, 1).await;
    assert_eq!(open_uploads(&prefix).await, 1, "the multipart upload exists while running");
    control(&handle, "abort");
    let err = JsFuture::from(handle).await.expect_err("aborted");
    assert_eq!(string(&err, "code").as_deref(), Some("Aborted"));
    assert_eq!(open_uploads(&prefix).await, 0, "abort leaves no multipart upload in the store");
}

#[wasm_bindgen_test]
async fn abort_signal_aborts() {
    // One 5 MiB part at a time: after the first, four are still to go.
    let up = uploader(&[
        ("multipartThreshold", JsValue::from(0)),
        ("partSize", JsValue::from((5 * MIB) as f64)),
        ("concurrency", JsValue::from(1)),
    ]);
    let controller = web_sys::AbortController::new().expect("controller");
    let key = unique_key("signal.bin");
    let (opts, report) = recording(&key, &[("signal", controller.signal().into())]);
    let handle = up.upload(&blob(&bytes(24 * MIB, 10)), opts);
    // Aborted while parts go up (after the first stored part).
    wait_parts(&report, 1).await;
    controller.abort();
    let err = JsFuture::from(handle).await.expect_err("aborted");
    assert_eq!(string(&err, "code").as_deref(), Some("Aborted"));
    // an already-aborted signal refuses at once
    let err =
        upload_err(&up, &blob(b"x"), obj(&[("key", JsValue::from_str(&key)), ("signal", controller.signal().into())]))
            .await;
    assert_eq!(string(&err, "code").as_deref(), Some("Aborted"));
}

#[wasm_bindgen_test]
async fn lambda_protocol_uploads_20_mib() {
    let up = uploader_at(&format!("{}/invoke", api()), &[("protocol", JsValue::from_str("lambda"))]);
    let data = bytes(20 * MIB, 11);
    let (key, result, _) = upload_ok(&up, "lambda.bin", &data).await;
    assert!(get(&result, "uploadId").is_string());
    // downloadUrl goes through the envelope too
    let url = JsFuture::from(up.download_url(key.clone())).await.expect("download url");
    assert_eq!(sha(&fetch_bytes(&url.as_string().expect("url")).await), sha(&data));
}

/// A gateway that relays the Lambda's result as it is (HTTP 200 with
/// `{statusCode, headers, body}`): read as the response it stands for, so the
/// upload goes through and a refusal keeps the backend's status and message.
#[wasm_bindgen_test]
async fn lambda_results_relayed_as_they_are_are_read_as_responses() {
    track_xhr();
    set_lambda_raw(true);
    let up = uploader_at(&format!("{}/invoke", api()), &[("protocol", JsValue::from_str("lambda"))]);
    let data = bytes(12 * MIB, 13);
    let (key, result, _) = upload_ok(&up, "lambda-raw.bin", &data).await;
    let small = upload_ok(&up, "lambda-raw-small.bin", b"tiny").await;
    let err = upload_err(&up, &blob(b"x"), obj(&[("key", JsValue::from_str("/abs"))])).await;
    // A function that throws every time: a 502 retried, then its words.
    let quick = uploader_at(
        &format!("{}/invoke", api()),
        &[
            ("protocol", JsValue::from_str("lambda")),
            ("retryDelays", Array::of2(&JsValue::from(0), &JsValue::from(10)).into()),
        ],
    );
    set_lambda_throws(1000);
    let threw = upload_err(&quick, &blob(b"x"), obj(&[("key", JsValue::from_str("lambda-threw.bin"))])).await;
    set_lambda_throws(0);
    set_lambda_raw(false);
    assert_eq!(string(&threw, "code").as_deref(), Some("BackendError"));
    assert_eq!(get(&threw, "status").as_f64(), Some(502.0));
    let cause = string(&threw, "cause").unwrap_or_default();
    assert!(cause.contains("Task timed out after 3.00 seconds"), "{cause}");
    assert!(get(&result, "uploadId").is_string());
    assert_eq!(sha(&read_back(&key).await), sha(&data));
    assert_eq!(read_back(&small.0).await, b"tiny");
    // Every call went through the relaying: init (which signs the parts),
    // complete, the small file's url and the refused one.
    let relayed = get(&get(&xhr_stats(), "calls"), "relayed").as_f64().unwrap_or(0.0);
    assert!(relayed >= 4.0, "{relayed} replies relayed");
    assert_eq!(string(&err, "code").as_deref(), Some("BackendError"));
    assert_eq!(get(&err, "status").as_f64(), Some(400.0), "the result's statusCode");
    let message = string(&err, "message").unwrap_or_default();
    assert!(message.contains("InvalidKey") && message.contains("leading slash"), "{message}");
}

#[wasm_bindgen_test]
async fn a_refusal_answered_http_200_is_told_in_the_backends_words() {
    // A backend that answers every call 200, its errors as `{"error": {…}}`.
    track_xhr();
    set_errors_as_200(true);
    let as200 = || get(&get(&xhr_stats(), "calls"), "as200").as_f64().unwrap_or(0.0);
    let up = uploader(&[("retryDelays", Array::of2(&JsValue::from(0), &JsValue::from(10)).into())]);
    let data = bytes(12 * MIB, 17);
    let ok = upload_ok(&up, "as-200.bin", &data).await;
    // Refused by url (a small file), then by init (a multipart upload):
    // each asked once, not again as a reply that could not be read.
    let before = as200();
    let refused = upload_err(&up, &blob(b"x"), obj(&[("key", JsValue::from_str("/abs"))])).await;
    let after_small = as200();
    let big = upload_err(&up, &blob(&data), obj(&[("key", JsValue::from_str("/abs-big"))])).await;
    let after_big = as200();
    set_errors_as_200(false);
    assert_eq!(sha(&read_back(&ok.0).await), sha(&data), "a 2xx that is no error is read as before");
    assert!(before >= 2.0, "{before} calls went through the 200-only backend");
    assert_eq!((after_small - before, after_big - after_small), (1.0, 1.0), "each refusal asked once");
    for err in [refused, big] {
        assert_eq!(string(&err, "code").as_deref(), Some("BackendError"));
        assert_eq!(get(&err, "status").as_f64(), Some(200.0), "the status it came with");
        assert_eq!(string(&err, "field").as_deref(), Some("error"), "the reply's field that refused");
        let message = string(&err, "message").unwrap_or_default();
        assert!(message.contains("InvalidKey") && message.contains("leading slash"), "{message}");
        assert!(!message.contains("network"), "{message}");
    }
    // A throttle in a 200 is asked again: the small file's url twice, init once.
    set_slow_down_200("url", 2);
    let small = upload_ok(&up, "as-200-throttled.bin", b"tiny").await;
    set_slow_down_200("init", 1);
    let throttled = upload_ok(&up, "as-200-throttled-big.bin", &data).await;
    set_slow_down_200("", 0);
    assert_eq!(get(&get(&xhr_stats(), "calls"), "slowDown").as_f64(), Some(3.0));
    assert_eq!(read_back(&small.0).await, b"tiny");
    assert_eq!(sha(&read_back(&throttled.0).await), sha(&data));
    // An abort answered 200 with a throttle, twice: asked again until the
    // upload is deleted (a 200 from abort used to count as done whatever it said).
    let up = uploader(&[
        ("partSize", JsValue::from(5 * MIB as u32)),
        ("concurrency", JsValue::from(2)),
        ("retryDelays", Array::of2(&JsValue::from(0), &JsValue::from(10)).into()),
    ]);
    let prefix = unique_key("as-200-abort");
    let (opts, report) = recording(&format!("{prefix}/file.bin"), &[]);
    let handle = up.upload(&blob(&bytes(40 * MIB, 18)), opts);
    wait_parts(&report, 1).await;
    set_slow_down_200("abort", 2);
    control(&handle, "abort");
    let err = JsFuture::from(handle).await.expect_err("aborted");
    set_slow_down_200("", 0);
    assert_eq!(string(&err, "code").as_deref(), Some("Aborted"));
    assert_eq!(open_uploads(&prefix).await, 0, "the upload was deleted in the end");
    assert_eq!(get(&get(&xhr_stats(), "calls"), "slowDown").as_f64(), Some(5.0));
}

#[wasm_bindgen_test]
async fn hooks_protocol_uploads_20_mib() {
    let rest = rest_hooks(api(), &JsValue::UNDEFINED);
    let up = Uploader::new(obj(&[("protocol", get(&rest, "hooks"))])).expect("hooks accepted");
    let data = bytes(20 * MIB, 12);
    let (key, result, _) = upload_ok(&up, "hooks.bin", &data).await;
    assert!(get(&result, "uploadId").is_string());
    assert_eq!(sha(&read_back(&key).await), sha(&data));
    let calls: Vec<String> = Array::from(&get(&rest, "calls")).iter().filter_map(|c| c.as_string()).collect();
    assert_eq!(calls.iter().filter(|c| c.ends_with("/init")).count(), 1);
    // the part size the engine picks for 20 MiB and a window of 4: 4 parts of 5 MiB
    assert_eq!(calls.iter().filter(|c| c.ends_with("/part-url")).count(), 4);
    // listParts through the hooks: the upload is complete, so S3 has no such upload any more
    let err = JsFuture::from(up.list_parts(key, string(&result, "uploadId").expect("id"))).await.expect_err("gone");
    assert_eq!(string(&err, "code").as_deref(), Some("BackendError"));
    // small files go multipart too when there is no signPut hook
    let (_, result, _) = upload_ok(&up, "hooks-small.bin", &bytes(10, 13)).await;
    assert!(get(&result, "uploadId").is_string());
    let (key, result, _) = upload_ok(&up, "hooks-empty.bin", &[]).await;
    assert!(get(&result, "uploadId").is_string());
    assert_eq!(read_back(&key).await.len(), 0);
}

#[wasm_bindgen_test]
async fn list_parts_shows_the_stored_parts() {
    let up = one_at_a_time();
    let key = unique_key("listed.bin");
    let (opts, report) = recording(&key, &[]);
    let handle = up.upload(&blob(&bytes(30 * MIB, 14)), opts);
    wait_parts(&report, 2).await;
    control(&handle, "pause");
    sleep(50).await;
    // the upload id is not in the report: find it through the debug endpoint
    let v = fetch_json(&format!("{}/uploads/multipart/open?prefix={key}", api())).await;
    let id = string(&Array::from(&get(&v, "uploads")).get(0), "upload_id").expect("open upload");
    let parts = JsFuture::from(up.list_parts(key.clone(), id)).await.expect("listed");
    let parts = Array::from(&parts);
    assert!(parts.length() >= 2, "{} parts listed", parts.length());
    for p in parts.iter() {
        assert!(string(&p, "ETag").is_some_and(|e| e.starts_with('"')));
        assert_eq!(num(&p, "Size"), 5.0 * MIB as f64);
    }
    control(&handle, "abort");
    assert!(JsFuture::from(handle).await.is_err());
}

#[wasm_bindgen_test]
async fn headers_object_and_function_reach_the_backend() {
    // The locked server wants `Authorization: Bearer test-token`; single PUTs need no ETag.
    let data = bytes(1000, 15);
    let without = uploader_at(locked_api(), &[]);
    let err = upload_err(&without, &blob(&data), obj(&[("key", JsValue::from_str(&unique_key("h0")))])).await;
    assert_eq!((string(&err, "code").as_deref(), num(&err, "status")), (Some("BackendError"), 401.0));

    let headers = obj(&[("Authorization", JsValue::from_str("Bearer test-token"))]);
    let fixed = uploader_at(locked_api(), &[("headers", headers)]);
    upload_ok(&fixed, "h1.bin", &data).await;

    let calls = Rc::new(RefCell::new(0));
    let c2 = calls.clone();
    let f = Closure::<dyn Fn() -> Promise>::new(move || {
        *c2.borrow_mut() += 1;
        Promise::resolve(&obj(&[("Authorization", JsValue::from_str("Bearer test-token"))]))
    });
    let dynamic = uploader_at(locked_api(), &[("headers", f.into_js_value()), ("withCredentials", JsValue::TRUE)]);
    upload_ok(&dynamic, "h2.bin", &data).await;
    assert!(*calls.borrow() >= 1, "the headers function is called for backend calls");

    let bad = Closure::<dyn Fn() -> JsValue>::new(|| JsValue::from(5));
    let broken = uploader_at(locked_api(), &[("headers", bad.into_js_value())]);
    let err = upload_err(&broken, &blob(&data), obj(&[("key", JsValue::from_str(&unique_key("h3")))])).await;
    assert_eq!(string(&err, "field").as_deref(), Some("headers"));
    assert_eq!(string(&err, "code").as_deref(), Some("InvalidOptions"));
    assert!(string(&err, "message").is_some_and(|m| m.contains("must be (or return) an object")), "{err:?}");

    // A headers function that throws: its message, named, and nothing retried.
    let throws = Function::new_no_args("throw new Error('no token yet')");
    let failing = uploader_at(locked_api(), &[("headers", throws.into())]);
    let err = upload_err(&failing, &blob(&data), obj(&[("key", JsValue::from_str(&unique_key("h4")))])).await;
    assert_eq!(string(&err, "field").as_deref(), Some("headers"));
    assert_eq!(string(&err, "code").as_deref(), Some("InvalidOptions"));
    assert_eq!(string(&err, "message").as_deref(), Some("options.headers() threw: no token yet"));
}

#[wasm_bindgen_test]
async fn with_credentials_uploads_multipart() {
    // Every backend call and every PUT asks for credentials (the test
    // servers list this page's origin, so the browser allows them).
    track_xhr();
    let up = uploader(&[("withCredentials", JsValue::TRUE), ("multipartThreshold", JsValue::from(0))]);
    let data = bytes(9 * MIB, 16);
    let (key, _, _) = upload_ok(&up, "credentials.bin", &data).await;
    let stats = xhr_stats();
    assert_eq!(num(&stats, "credentialedPuts"), num(&stats, "puts"), "every PUT sent withCredentials");
    assert!(num(&stats, "puts") >= 2.0);
    assert_eq!(num(&stats, "credentialedFetches"), num(&stats, "fetches"), "every backend call with credentials");
    // init (which signs the first parts), any part URLs it did not sign, and complete.
    assert!(num(&stats, "fetches") >= 2.0, "init and complete went through fetch");
    assert_eq!(sha(&read_back(&key).await), sha(&data));

    // Without the option, none does.
    track_xhr();
    let (_, _, _) = upload_ok(&uploader(&[("multipartThreshold", JsValue::from(0))]), "plain.bin", &data).await;
    let stats = xhr_stats();
    assert_eq!(num(&stats, "credentialedPuts"), 0.0);
    assert_eq!(num(&stats, "credentialedFetches"), 0.0);
    assert!(num(&stats, "fetches") >= 2.0, "init and complete went through fetch");
}

#[wasm_bindgen_test]
async fn invalid_options_are_named() {
    let e = |pairs: &[(&str, JsValue)]| {
        let mut fields = vec![("endpoint", JsValue::from_str(api()))];
        fields.extend(pairs.iter().cloned());
        obj(&fields)
    };
    let not_fn = obj(&[("createMultipartUpload", JsValue::from(1))]);
    let cases: Vec<(JsValue, &str)> = vec![
        (obj(&[]), "endpoint"),
        (JsValue::from_str("/api"), "options"),
        (e(&[("concurrency", JsValue::from(0))]), "concurrency"),
        (e(&[("concurrency", JsValue::from(17))]), "concurrency"),
        (e(&[("concurrency", JsValue::from(2.5))]), "concurrency"),
        (e(&[("concurrency", JsValue::from_str("4"))]), "concurrency"),
        (e(&[("concurrency", obj(&[("min", JsValue::from(0))]))]), "concurrency"),
        (e(&[("concurrency", obj(&[("max", JsValue::from(17))]))]), "concurrency"),
        (e(&[("concurrency", obj(&[("max", JsValue::from_str("6"))]))]), "concurrency"),
        (e(&[("concurrency", obj(&[("min", JsValue::from(5)), ("max", JsValue::from(3))]))]), "concurrency"),
        (e(&[("concurrency", obj(&[("maximum", JsValue::from(3))]))]), "concurrency"),
        (e(&[("partSize", JsValue::from(1024))]), "partSize"),
        (e(&[("partSize", JsValue::from_str("8MB"))]), "partSize"),
        (e(&[("partsize", JsValue::from(1024))]), "partsize"),
        (e(&[("partSize", obj(&[("min", JsValue::from(1024))]))]), "partSize"),
        (e(&[("partSize", obj(&[("max", JsValue::from_str("16MB"))]))]), "partSize"),
        (e(&[("partSize", obj(&[("max", JsValue::from(6.0 * 1024.0 * 1024.0 * 1024.0))]))]), "partSize"),
        (
            e(&[("partSize", obj(&[("min", JsValue::from(9 * MIB as u32)), ("max", JsValue::from(6 * MIB as u32))]))]),
            "partSize",
        ),
        (e(&[("partSize", obj(&[("max", JsValue::from(8 * MIB as u32)), ("size", JsValue::from(1))]))]), "partSize"),
        (e(&[("partSize", Array::of1(&JsValue::from(8 * MIB as u32)).into())]), "partSize"),
        (e(&[("protocol", JsValue::from_str("soap"))]), "protocol"),
        (e(&[("protocol", JsValue::from(3))]), "protocol"),
        (e(&[("retryDelays", JsValue::from_str("1s"))]), "retryDelays"),
        (e(&[("retryDelays", Array::of1(&JsValue::from(-1)).into())]), "retryDelays"),
        (e(&[("partTimeout", JsValue::from(-5))]), "partTimeout"),
        (e(&[("multipartThreshold", JsValue::from(-1))]), "multipartThreshold"),
        (e(&[("withCredentials", JsValue::from_str("yes"))]), "withCredentials"),
        (e(&[("headers", JsValue::from(5))]), "headers"),
        (e(&[("resumeScope", JsValue::from_str(" "))]), "resumeScope"),
        (e(&[("resumeScope", JsValue::from_str(&"x".repeat(257)))]), "resumeScope"),
        (e(&[("resumeScope", JsValue::from(1))]), "resumeScope"),
        (e(&[("protocol", obj(&[]))]), "endpoint"),
        (obj(&[("protocol", not_fn)]), "hooks"),
        (obj(&[("protocol", obj(&[("signPart", Function::new_no_args("").into())]))]), "hooks"),
    ];
    for (opts, field) in cases {
        let err = match Uploader::new(opts) {
            Ok(_) => panic!("{field}: accepted"),
            Err(e) => e,
        };
        assert!(err.is_instance_of::<js_sys::Error>());
        assert_eq!(string(&err, "name").as_deref(), Some("UploadError"));
        assert_eq!(string(&err, "code").as_deref(), Some("InvalidOptions"), "{field}");
        assert_eq!(string(&err, "field").as_deref(), Some(field));
        let msg = string(&err, "message").expect("message");
        assert!(msg.contains(field) && msg.len() > 30, "{msg}");
    }
    // upload() rejects (never throws) on bad upload options
    let up = uploader(&[]);
    for (opts, field) in [
        (obj(&[]), "key"),
        (obj(&[("key", JsValue::from(5))]), "key"),
        (obj(&[("key", JsValue::from_str("k")), ("onProgress", JsValue::from(1))]), "onProgress"),
        (obj(&[("key", JsValue::from_str("k")), ("signal", JsValue::from(1))]), "signal"),
        (obj(&[("key", JsValue::from_str("k")), ("kee", JsValue::from(1))]), "kee"),
    ] {
        let err = upload_err(&up, &blob(b"x"), opts).await;
        assert_eq!(string(&err, "code").as_deref(), Some("InvalidOptions"));
        assert_eq!(string(&err, "field").as_deref(), Some(field));
    }
}

#[wasm_bindgen_test]
async fn file_too_large_is_refused_before_any_request() {
    track_xhr();
    let up = uploader(&[]);
    let huge = huge_blob(6.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0);
    let err = upload_err(&up, &huge, obj(&[("key", JsValue::from_str("too/large"))])).await;
    assert_eq!(string(&err, "code").as_deref(), Some("FileTooLarge"));
    assert!(string(&err, "message").is_some_and(|m| m.contains("5 TiB")));
    assert_eq!(num(&xhr_stats(), "puts"), 0.0);
}

#[wasm_bindgen_test]
async fn backend_refusal_is_a_backend_error_with_the_backend_message() {
    let up = uploader(&[("multipartThreshold", JsValue::from(0))]);
    let err = upload_err(&up, &blob(b"data"), obj(&[("key", JsValue::from_str("bad/../key"))])).await;
    assert_eq!(string(&err, "code").as_deref(), Some("BackendError"));
    assert_eq!(num(&err, "status"), 400.0);
    assert!(string(&err, "message").is_some_and(|m| m.contains("InvalidKey")));
}

#[wasm_bindgen_test]
async fn unreachable_backend_is_retried_then_a_backend_error() {
    let up = uploader_at(
        "http://127.0.0.1:9/api",
        &[("retryDelays", Array::of2(&JsValue::from(0), &JsValue::from(10)).into())],
    );
    let (opts, report) = recording("k", &[]);
    let err = upload_err(&up, &blob(b"data"), opts).await;
    assert_eq!(string(&err, "code").as_deref(), Some("BackendError"));
    assert_eq!(report.borrow().retries.len(), 2, "retried as the delays say, then gave up");
}

#[wasm_bindgen_test]
async fn s3_refusal_is_an_s3_error_and_aborts() {
    // Part URLs with a broken signature: S3 answers 403 SignatureDoesNotMatch;
    // a part is signed again once (the URL may have been altered on its way),
    // and the second refusal stands.
    let mangle = Function::new_with_args(
        "url",
        "return url.replace(/X-Amz-Signature=[0-9a-f]+/, 'X-Amz-Signature=' + '0'.repeat(64))",
    );
    let rest = rest_hooks(api(), &mangle);
    let up = Uploader::new(obj(&[("protocol", get(&rest, "hooks"))])).expect("hooks");
    let prefix = unique_key("s3error");
    let (opts, report) = recording(&format!("{prefix}/f.bin"), &[]);
    let err = upload_err(&up, &blob(&bytes(12 * MIB, 17)), opts).await;
    assert_eq!(string(&err, "code").as_deref(), Some("S3Error"));
    assert_eq!(num(&err, "status"), 403.0);
    assert!(get(&err, "partNumber").as_f64().is_some());
    assert!(
        string(&err, "message").is_some_and(|m| m.contains("SignatureDoesNotMatch")),
        "{:?}",
        string(&err, "message")
    );
    let retries = report.borrow().retries.clone();
    assert!(!retries.is_empty(), "the refused part was signed again once");
    for r in &retries {
        assert_eq!(num(r, "attempt"), 1.0, "never a second retry of a refused signature");
        let e = get(r, "error");
        assert!(
            string(&e, "message").is_some_and(|m| m.contains("SignatureDoesNotMatch")),
            "{:?}",
            string(&e, "message")
        );
    }
    let mut parts: Vec<f64> = retries.iter().map(|r| num(r, "partNumber")).collect();
    parts.sort_by(f64::total_cmp);
    parts.dedup();
    assert_eq!(parts.len(), retries.len(), "one retry per part at most");
    assert!(
        Array::from(&get(&rest, "calls")).iter().any(|c| c.as_string().as_deref() == Some("abort")),
        "abort hook called"
    );
    assert_eq!(open_uploads(&prefix).await, 0);
}

#[wasm_bindgen_test]
async fn dead_part_urls_are_a_network_error_after_retries() {
    let mangle = Function::new_with_args("url", "return 'http://127.0.0.1:9/nowhere'");
    let rest = rest_hooks(api(), &mangle);
    let up = Uploader::new(obj(&[
        ("protocol", get(&rest, "hooks")),
        ("retryDelays", Array::of2(&JsValue::from(0), &JsValue::from(0)).into()),
        // one part: its two retries are all the retries
        ("partSize", JsValue::from(8 * MIB as u32)),
    ]))
    .expect("hooks");
    let prefix = unique_key("neterror");
    let (opts, report) = recording(&format!("{prefix}/f.bin"), &[]);
    let err = upload_err(&up, &blob(&bytes(6 * MIB, 18)), opts).await;
    assert_eq!(string(&err, "code").as_deref(), Some("NetworkError"));
    assert_eq!(report.borrow().retries.len(), 2);
    let retry = report.borrow().retries[0].clone();
    assert_eq!(num(&retry, "attempt"), 1.0);
    assert_eq!(string(&get(&retry, "error"), "code").as_deref(), Some("NetworkError"));
    assert_eq!(open_uploads(&prefix).await, 0, "the failed upload was aborted");
}

#[wasm_bindgen_test]
async fn hidden_etag_is_etag_not_exposed() {
    let headers = obj(&[("Authorization", JsValue::from_str("Bearer test-token"))]);
    let up = uploader_at(locked_api(), &[("headers", headers), ("multipartThreshold", JsValue::from(0))]);
    let err =
        upload_err(&up, &blob(&bytes(6 * MIB, 19)), obj(&[("key", JsValue::from_str(&unique_key("etag")))])).await;
    assert_eq!(string(&err, "code").as_deref(), Some("EtagNotExposed"));
    let msg = string(&err, "message").expect("message");
    assert!(msg.contains("CORS") && msg.contains("ETag"), "{msg}");
}

#[wasm_bindgen_test]
async fn errors_are_upload_errors_with_all_fields() {
    let up = uploader(&[("multipartThreshold", JsValue::from(0))]);
    let err = upload_err(&up, &blob(b"data"), obj(&[("key", JsValue::from_str("bad/../key"))])).await;
    for field in ["code", "status", "partNumber", "field", "message", "stack"] {
        assert!(js_sys::Reflect::has(&err, &JsValue::from_str(field)).unwrap_or(false), "{field}");
    }
    assert!(err.dyn_ref::<js_sys::Error>().is_some());
}

#[wasm_bindgen_test]
async fn an_interrupted_upload_resumes_and_sends_only_the_missing_parts() {
    let up = one_at_a_time();
    let key = unique_key("resume.bin");
    let data = bytes(30 * MIB, 40);
    let f = file(&data, "resume.bin", 1_700_000_000_000.0);
    // The first attempt stops after two parts, as if the page had died.
    let entry = interrupted(&up, &f, &key, 2).await;
    let stored = num(&entry, "partsDone");
    assert!(stored >= 2.0, "{stored} parts in the journal");
    assert_eq!(num(&entry, "size"), data.len() as f64);

    // The same file again: it resumes.
    track_xhr();
    let (on_resume, resumed) = on_resume();
    let (opts, report) = recording(&key, &[("onResume", on_resume)]);
    let result = JsFuture::from(up.upload(&f, opts)).await.expect("resumed upload finishes");
    let info = resumed.borrow().clone().expect("onResume was called");
    let parts_before = num(&info, "partsDone");
    assert!(parts_before >= 2.0);
    assert_eq!(string(&info, "uploadId"), string(&result, "uploadId"), "the same multipart upload went on");
    assert_eq!(num(&xhr_stats(), "puts"), 6.0 - parts_before, "only the missing parts were sent");
    let first_progress = report.borrow().progress.first().copied().expect("progress");
    assert!(first_progress >= parts_before * 5.0 * MIB as f64, "progress starts at what was stored");
    assert_eq!(sha(&read_back(&key).await), sha(&data));
    assert!(left_the_journal(&up, &key).await, "a finished upload leaves the journal");
    // Init waited for the journal's answer: no second multipart upload.
    assert_eq!(open_uploads_soon(&key).await, 0, "no upload left open");
}

#[wasm_bindgen_test]
async fn abort_while_the_journal_is_read_deletes_the_stored_upload() {
    let up = one_at_a_time();
    let key = unique_key("abort-lookup.bin");
    let f = file(&bytes(20 * MIB, 44), "abort-lookup.bin", 1_650_000_000_000.0);
    let _ = interrupted(&up, &f, &key, 1).await;
    assert_eq!(open_uploads(&key).await, 1);
    track_xhr();
    // Aborted at once: while the journal is read (init waits for it).
    let h = up.upload(&f, obj(&[("key", JsValue::from_str(&key))]));
    control(&h, "abort");
    let err = JsFuture::from(h).await.expect_err("aborted");
    assert_eq!(string(&err, "code").as_deref(), Some("Aborted"));
    assert_eq!(num(&xhr_stats(), "puts"), 0.0, "no part was sent");
    assert_eq!(open_uploads_soon(&key).await, 0, "neither the stored nor the new upload is left open");
    assert!(left_the_journal(&up, &key).await, "the journal entry is gone");
}

#[wasm_bindgen_test]
async fn paused_while_the_journal_is_read_the_resumed_upload_stays_paused() {
    let up = one_at_a_time();
    let key = unique_key("pause-lookup.bin");
    let data = bytes(20 * MIB, 45);
    let f = file(&data, "pause-lookup.bin", 1_660_000_000_000.0);
    let _ = interrupted(&up, &f, &key, 1).await;
    track_xhr();
    let (on_resume, resumed) = on_resume();
    let (opts, report) = recording(&key, &[("onResume", on_resume)]);
    let h = up.upload(&f, opts);
    control(&h, "pause");
    sleep(500).await;
    let stored = num(&resumed.borrow().clone().expect("the stored upload was taken up"), "partsDone");
    assert!(stored >= 1.0);
    assert_eq!(num(&xhr_stats(), "puts"), 0.0, "paused: nothing sent");
    assert!(report.borrow().progress.iter().all(|&b| b >= 5.0 * MIB as f64), "progress never shows the new upload's 0");
    control(&h, "resume");
    let result = JsFuture::from(h).await.expect("finishes after resume()");
    assert_eq!(num(&xhr_stats(), "puts"), 4.0 - stored, "only the missing parts");
    assert_eq!(sha(&read_back(&key).await), sha(&data));
    assert!(get(&result, "uploadId").is_string());
    assert_eq!(open_uploads_soon(&key).await, 0, "nothing left open");
}

#[wasm_bindgen_test]
async fn a_changed_file_with_the_same_name_size_and_date_is_not_resumed() {
    let up = one_at_a_time();
    let prefix = unique_key("changed");
    let key = format!("{prefix}/same.bin");
    let old = file(&bytes(20 * MIB, 41), "same.bin", 1_600_000_000_000.0);
    let old_id = string(&interrupted(&up, &old, &key, 1).await, "uploadId").expect("id");

    let new_data = bytes(20 * MIB, 42);
    let changed = file(&new_data, "same.bin", 1_600_000_000_000.0);
    let (on_resume, resumed) = on_resume();
    let (opts, _) = recording(&key, &[("onResume", on_resume)]);
    let result = JsFuture::from(up.upload(&changed, opts)).await.expect("uploads anew");
    assert!(resumed.borrow().is_none(), "not resumed");
    assert_ne!(string(&result, "uploadId").as_deref(), Some(old_id.as_str()));
    assert_eq!(sha(&read_back(&key).await), sha(&new_data), "the new content is stored, not a mix");
    assert_eq!(open_uploads_soon(&prefix).await, 0, "the refused upload was aborted");
}

/// The file changed between its fingerprint's samples (same name, size and
/// date; the bytes of a stored part differ): the upload resumes and hashes
/// the parts stored before (read, not sent). Where list-parts names each
/// part's CRC32 (the reference backend, as S3 lists them), the changed part
/// is found and only it is sent again; where it does not, complete's
/// whole-object CRC32 no longer matches what the store holds, and every part
/// stored before is sent again. Either way the object is the file as it is
/// now. Before, complete went without a whole-object checksum after a
/// resume and a mix of both files was stored as the object.
#[wasm_bindgen_test]
async fn a_file_changed_between_its_samples_is_caught_and_stored_as_it_is_now() {
    async fn case(up: Uploader, name: &str, listing: bool) {
        let key = unique_key(name);
        let old = bytes(30 * MIB, 46);
        let entry = interrupted(&up, &file(&old, name, 1_690_000_000_000.0), &key, 2).await;
        assert!(num(&entry, "partsDone") >= 2.0);
        // Whether the store lists each part's CRC32 (the embedded one does;
        // the SeaweedFS tier runs this test too). What it holds, not the
        // journal's count, is what the resume finds: the PUT of part 3 that
        // the pause cancelled may have been stored (a flake in CI until
        // the count came from the store).
        let id = string(&entry, "uploadId").expect("upload id");
        let listed = settled_parts(&key, &id).await;
        let stored = f64::from(listed.length());
        let listing_has_crcs = listing && listed.iter().all(|p| get(&p, "ChecksumCRC32").is_string());
        // Part 2 (5..10 MiB) changed at 7 MiB: none of the samples (start,
        // middle, end) sees it.
        let mut new = old.clone();
        new[7 * MIB..7 * MIB + 100].iter_mut().for_each(|b| *b ^= 0x5A);
        track_xhr();
        let (on_resume, resumed) = on_resume();
        let (opts, _) = recording(&key, &[("onResume", on_resume)]);
        let result = JsFuture::from(up.upload(&file(&new, name, 1_690_000_000_000.0), opts))
            .await
            .expect("the upload goes through");
        assert!(resumed.borrow().is_some(), "{name}: resumed (the samples match)");
        assert_eq!(sha(&read_back(&key).await), sha(&new), "{name}: the object is the file as it is now, not a mix");
        assert_eq!(string(&get(&result, "checksum"), "value"), Some(crc32_b64(&new)), "{name}: verified as a whole");
        let sent_again = if listing_has_crcs { 1.0 } else { stored };
        assert_eq!(
            num(&xhr_stats(), "puts"),
            6.0 - stored + sent_again,
            "{name}: the missing parts, and {sent_again} of the {stored} stored before"
        );
        assert_eq!(open_uploads_soon(&key).await, 0, "{name}: nothing left open");
    }
    case(one_at_a_time(), "inside.bin", true).await;
    let rest = rest_hooks(api(), &JsValue::UNDEFINED);
    lists_no_checksums(&rest);
    let hooks = one_at_a_time_hooks(&rest);
    case(hooks, "inside-hooks.bin", false).await;
}

/// The same file uploaded to the same key again while the first upload runs
/// (a second tab, a second drop): the running upload holds its journal
/// entry (a Web Lock), so the second goes on with an upload of its own and
/// leaves the first alone; both finish. Before, a second upload started
/// within the first's first second (its content sample not yet journaled)
/// deleted the first's multipart upload as "changed", and the first failed.
#[wasm_bindgen_test]
async fn a_second_upload_of_the_same_file_leaves_the_running_one_alone() {
    let up = one_at_a_time();
    let key = unique_key("twice.bin");
    let data = bytes(20 * MIB, 50);
    let f = file(&data, "twice.bin", 5.0);
    let (opts, report) = recording(&key, &[]);
    let first = up.upload(&f, opts);
    wait_parts(&report, 1).await;
    let second = up.upload(&f, obj(&[("key", JsValue::from_str(&key))]));
    let (a, b) = (JsFuture::from(first).await, JsFuture::from(second).await);
    assert!(a.is_ok(), "the first upload finished: {:?}", a.err().and_then(|e| string(&e, "message")));
    assert!(b.is_ok(), "the second upload finished: {:?}", b.err().and_then(|e| string(&e, "message")));
    assert_eq!(sha(&read_back(&key).await), sha(&data));
    assert_eq!(open_uploads_soon(&key).await, 0, "nothing left open");
}

/// An upload interrupted and never taken up again: once its journal entry is
/// older than 7 days, the next `Uploader` made for the backend aborts its
/// multipart upload and forgets it; a younger one stays resumable.
#[wasm_bindgen_test]
async fn expired_journal_entries_are_aborted_and_forgotten() {
    let up = one_at_a_time();
    let prefix = unique_key("expired");
    let (old_key, young_key) = (format!("{prefix}/old.bin"), format!("{prefix}/young.bin"));
    let old = interrupted(&up, &file(&bytes(12 * MIB, 47), "old.bin", 3.0), &old_key, 1).await;
    let _ = interrupted(&up, &file(&bytes(12 * MIB, 48), "young.bin", 3.0), &young_key, 1).await;
    assert_eq!(open_uploads(&prefix).await, 2);
    age_journal_entry(&string(&old, "id").expect("id"), 8.0 * 24.0 * 3600.0 * 1000.0).await;
    let _next = uploader(&[]);
    assert_eq!(open_uploads_soon(&old_key).await, 0, "the expired upload was aborted");
    assert!(left_the_journal(&up, &old_key).await, "and its entry forgotten");
    assert!(resumable(&up, &young_key).await.is_some(), "the young one stays resumable");
    assert_eq!(open_uploads(&young_key).await, 1);
}

/// Two backends behind one endpoint (two buckets, two tenants: the same
/// paths, other credentials), each named by `resumeScope`: an upload
/// interrupted in one is neither listed nor taken up by the other, whose
/// upload of the same file to the same key goes anew; the first stays
/// resumable in its own scope and resumes there.
#[wasm_bindgen_test]
async fn a_resume_scope_keeps_each_backends_uploads_apart() {
    let scoped = |scope: &str| {
        uploader(&[
            ("partSize", JsValue::from(5 * MIB as u32)),
            ("concurrency", JsValue::from(1)),
            ("resumeScope", JsValue::from_str(scope)),
        ])
    };
    let (a, b) = (scoped("tenant-a"), scoped("tenant-b"));
    let key = unique_key("scoped.bin");
    let data = bytes(20 * MIB, 46);
    let f = file(&data, "scoped.bin", 1_640_000_000_000.0);
    let _ = interrupted(&a, &f, &key, 1).await;
    assert!(resumable(&b, &key).await.is_none(), "the other scope does not list it");
    assert!(resumable(&one_at_a_time(), &key).await.is_none(), "nor does the endpoint's own journal");
    let (on_resume_b, resumed_b) = on_resume();
    let (opts, _) = recording(&key, &[("onResume", on_resume_b)]);
    JsFuture::from(b.upload(&f, opts)).await.expect("the other scope's upload");
    assert!(resumed_b.borrow().is_none(), "the other scope went anew");
    assert!(resumable(&a, &key).await.is_some(), "the first upload stays resumable in its scope");
    assert_eq!(open_uploads(&key).await, 1, "and open for it");
    let (on_resume_a, resumed_a) = on_resume();
    let (opts, _) = recording(&key, &[("onResume", on_resume_a)]);
    JsFuture::from(a.upload(&f, opts)).await.expect("resumed in its scope");
    assert!(resumed_a.borrow().is_some(), "it resumed in its own scope");
    assert_eq!(sha(&read_back(&key).await), sha(&data));
    assert_eq!(open_uploads_soon(&key).await, 0, "no upload left open");
}

#[wasm_bindgen_test]
async fn a_resumable_upload_can_be_discarded() {
    let up = one_at_a_time();
    let prefix = unique_key("discard");
    let key = format!("{prefix}/d.bin");
    let id = string(&interrupted(&up, &file(&bytes(20 * MIB, 43), "d.bin", 1.0), &key, 1).await, "id").expect("id");
    assert_eq!(open_uploads(&prefix).await, 1);
    let discarded = JsFuture::from(up.discard_resumable(id.clone())).await.expect("discard");
    assert_eq!(discarded.as_bool(), Some(true));
    assert_eq!(open_uploads(&prefix).await, 0, "the multipart upload is deleted");
    assert!(resumable(&up, &key).await.is_none());
    let again = JsFuture::from(up.discard_resumable(id)).await.expect("discard again");
    assert_eq!(again.as_bool(), Some(false));
}

/// The content type asked for is signed into a single PUT's URL (the reference
/// backend), sent with the PUT and stored; a multipart upload stores it too.
#[wasm_bindgen_test]
async fn the_content_type_asked_for_is_stored() {
    let up = uploader(&[("partSize", JsValue::from(5 * MIB as u32))]);
    for (size, multipart, content_type) in
        [(300 * 1024, false, "image/png"), (6 * MIB, true, "application/x-thing; v=2")]
    {
        let key = unique_key("typed.bin");
        let (opts, _) = recording(&key, &[("contentType", JsValue::from_str(content_type))]);
        let data = bytes(size, 77);
        let result = JsFuture::from(up.upload(&blob(&data), opts)).await.expect("upload");
        assert_eq!(get(&result, "uploadId").is_string(), multipart);
        assert_eq!(stored_content_type(&key).await.as_deref(), Some(content_type), "{size} bytes");
        assert_eq!(sha(&read_back(&key).await), sha(&data));
    }
}

/// The `abort` listener an upload adds to the caller's signal goes when the
/// upload ends (done or failed): one signal can serve many uploads.
#[wasm_bindgen_test]
async fn the_signal_listener_is_removed_when_the_upload_ends() {
    let counted = counted_signal();
    let signal = get(&counted, "signal");
    let live = || {
        let f: Function = get(&counted, "live").unchecked_into();
        f.call0(&JsValue::NULL).expect("live").as_f64().expect("number")
    };
    let up = uploader(&[("partSize", JsValue::from(5 * MIB as u32))]);
    for size in [1000, 6 * MIB] {
        let (opts, _) = recording(&unique_key("signal.bin"), &[("signal", signal.clone())]);
        let pending = up.upload(&blob(&bytes(size, 5)), opts);
        assert_eq!(live(), 1.0, "listening while the upload runs");
        JsFuture::from(pending).await.expect("upload");
        assert_eq!(live(), 0.0, "{size} bytes: no listener left");
    }
    // A failed upload removes it too.
    let bad = Uploader::new(obj(&[
        ("endpoint", JsValue::from_str("http://127.0.0.1:9/nowhere")),
        ("retryDelays", Array::new().into()),
    ]))
    .expect("uploader");
    let (opts, _) = recording(&unique_key("signal-fail.bin"), &[("signal", signal.clone())]);
    let _ = JsFuture::from(bad.upload(&blob(&bytes(1000, 6)), opts)).await.expect_err("fails");
    assert_eq!(live(), 0.0, "failed: no listener left");
}

/// A backend call that never answers is cancelled (its signal aborted) after
/// the call timeout and retried: the upload does not stall for ever.
#[wasm_bindgen_test]
async fn a_hook_that_never_answers_times_out_and_is_retried() {
    let rest = rest_hooks(api(), &JsValue::UNDEFINED);
    let seen = hanging_first_sign(&rest);
    let up = Uploader::new(obj(&[("protocol", get(&rest, "hooks"))])).expect("hooks");
    let key = unique_key("hang.bin");
    let (opts, report) = recording(&key, &[]);
    let data = bytes(6 * MIB, 44);
    JsFuture::from(up.upload(&blob(&data), opts)).await.expect("upload finishes");
    assert_eq!(get(&seen, "hung").as_f64(), Some(1.0));
    assert_eq!(get(&seen, "abortedOnTimeout").as_bool(), Some(true), "the hung call's signal was aborted");
    assert!(!report.borrow().retries.is_empty(), "the timed-out call was retried");
    assert_eq!(sha(&read_back(&key).await), sha(&data));
}

/// When the parts of a resumable upload cannot be listed for now (the backend
/// is unreachable), that upload is kept for later, not deleted: the file goes
/// anew this time, and a later attempt resumes the stored upload.
#[wasm_bindgen_test]
async fn an_unreachable_list_parts_keeps_the_stored_upload_for_later() {
    let rest = rest_hooks(api(), &JsValue::UNDEFINED);
    let state = flaky_list_parts(&rest);
    let up = one_at_a_time_hooks(&rest);
    let key = unique_key("flaky-resume.bin");
    let data = bytes(20 * MIB, 47);
    let f = file(&data, "flaky-resume.bin", 1_690_000_000_000.0);
    let stored = string(&interrupted(&up, &f, &key, 1).await, "uploadId").expect("stored upload id");

    js_sys::Reflect::set(&state, &"fail".into(), &JsValue::TRUE).expect("set");
    let (on_resume_cb, resumed) = on_resume();
    let (opts, _) = recording(&key, &[("onResume", on_resume_cb)]);
    let second = JsFuture::from(up.upload(&f, opts)).await.expect("the file goes anew");
    assert!(get(&state, "calls").as_f64().is_some_and(|n| n >= 3.0), "listing was tried again before giving up");
    assert!(resumed.borrow().is_none(), "not resumed");
    assert_ne!(string(&second, "uploadId").as_deref(), Some(stored.as_str()));
    let kept = resumable(&up, &key).await.expect("the stored upload is still resumable");
    assert_eq!(string(&kept, "uploadId").as_deref(), Some(stored.as_str()));

    js_sys::Reflect::set(&state, &"fail".into(), &JsValue::FALSE).expect("set");
    let (on_resume_cb, resumed) = on_resume();
    let (opts, _) = recording(&key, &[("onResume", on_resume_cb)]);
    let third = JsFuture::from(up.upload(&f, opts)).await.expect("resumed upload finishes");
    assert!(resumed.borrow().is_some(), "resumed now");
    assert_eq!(string(&third, "uploadId").as_deref(), Some(stored.as_str()));
    assert_eq!(sha(&read_back(&key).await), sha(&data));
}

/// The base64 CRC32 of `data`, as S3 writes it.
fn crc32_b64(data: &[u8]) -> String {
    s3_multipart_wasm::engine::checksum::to_base64(crc32fast::hash(data))
}

#[wasm_bindgen_test]
async fn checksums_are_on_by_default_and_the_result_names_the_whole_objects_crc() {
    let rest = rest_hooks(api(), &JsValue::UNDEFINED);
    let up = Uploader::new(obj(&[("protocol", get(&rest, "hooks")), ("partSize", JsValue::from((5 * MIB) as f64))]))
        .expect("hooks");
    let data = bytes(12 * MIB + 5, 41);
    let (key, result, _) = upload_ok(&up, "crc.bin", &data).await;
    let sum = get(&result, "checksum");
    assert_eq!(string(&sum, "algorithm").as_deref(), Some("CRC32"));
    assert_eq!(string(&sum, "value"), Some(crc32_b64(&data)), "the whole object's CRC32, combined from the parts'");
    let calls: Vec<String> = Array::from(&get(&rest, "calls")).iter().filter_map(|c| c.as_string()).collect();
    assert!(calls.contains(&"complete:CRC32".to_owned()), "complete carried the checksum: {calls:?}");
    assert_eq!(sha(&read_back(&key).await), sha(&data));

    // Switched off: no checksum anywhere.
    let rest = rest_hooks(api(), &JsValue::UNDEFINED);
    let up = Uploader::new(obj(&[("protocol", get(&rest, "hooks")), ("checksum", JsValue::from_str("none"))]))
        .expect("hooks");
    let (key, result, _) = upload_ok(&up, "nocrc.bin", &data).await;
    assert!(get(&result, "checksum").is_null());
    let calls: Vec<String> = Array::from(&get(&rest, "calls")).iter().filter_map(|c| c.as_string()).collect();
    assert!(calls.contains(&"complete".to_owned()), "{calls:?}");
    assert_eq!(sha(&read_back(&key).await), sha(&data));

    // A single PUT carries the file's CRC32 too (signed by the reference backend).
    let (_, result, _) = upload_ok(&uploader(&[]), "crc-small.bin", &bytes(1000, 42)).await;
    assert_eq!(string(&get(&result, "checksum"), "value"), Some(crc32_b64(&bytes(1000, 42))));
}

/// A backend from before checksums (its hooks leave every checksum out):
/// the upload works, and its result names no checksum, since the store
/// verified none. Before, the result named the client's CRC32 as if the
/// store had verified it.
#[wasm_bindgen_test]
async fn a_backend_that_ignores_checksums_uploads_and_the_result_claims_none() {
    let rest = rest_hooks(api(), &JsValue::UNDEFINED);
    ignores_checksums(&rest);
    let up = Uploader::new(obj(&[("protocol", get(&rest, "hooks")), ("partSize", JsValue::from((5 * MIB) as f64))]))
        .expect("hooks");
    let data = bytes(12 * MIB, 49);
    let (key, result, _) = upload_ok(&up, "unverified.bin", &data).await;
    assert!(
        get(&result, "checksum").is_null(),
        "no checksum claimed: {:?}",
        string(&get(&result, "checksum"), "value")
    );
    assert_eq!(sha(&read_back(&key).await), sha(&data));
}

#[wasm_bindgen_test]
async fn a_whole_object_checksum_that_differs_is_integrity_error_and_nothing_is_stored() {
    let rest = rest_hooks(api(), &JsValue::UNDEFINED);
    wrong_whole_checksum(&rest);
    let up = Uploader::new(obj(&[("protocol", get(&rest, "hooks"))])).expect("hooks");
    let prefix = unique_key("integrity");
    let key = format!("{prefix}/f.bin");
    let (opts, _) = recording(&key, &[]);
    let err = upload_err(&up, &blob(&bytes(11 * MIB, 43)), opts).await;
    assert_eq!(string(&err, "code").as_deref(), Some("IntegrityError"), "{:?}", string(&err, "message"));
    assert!(string(&err, "message").is_some_and(|m| m.contains("not stored")), "{:?}", string(&err, "message"));
    assert_eq!(open_uploads(&prefix).await, 0, "the refused upload was aborted");
    assert_eq!(object_status(&key).await, 404, "no object was stored");
}

/// A part's `ETag` header altered on its way back: complete is refused with
/// S3's `InvalidPart` (thrown by a hook as the AWS SDK throws it), the stored
/// parts are listed, the store's ETag replaces the altered one, and complete
/// goes through; without `listParts`, the refusal stands and the upload is
/// deleted.
#[wasm_bindgen_test]
async fn a_complete_refused_for_an_altered_etag_is_repaired_from_the_stored_parts() {
    let rest = rest_hooks(api(), &JsValue::UNDEFINED);
    let seen = sdk_like_complete(&rest);
    let up = Uploader::new(obj(&[("protocol", get(&rest, "hooks"))])).expect("hooks");
    let data = bytes(20 * MIB, 44);
    alter_etag_of_put(2);
    let outcome = upload_ok(&up, "etag-repair.bin", &data).await;
    alter_etag_of_put(0);
    assert_eq!(sha(&read_back(&outcome.0).await), sha(&data));
    assert_eq!((num(&seen, "completes"), num(&seen, "lists")), (2.0, 1.0), "refused, listed, completed");
    // The same without a listParts hook: nothing to repair with.
    let rest = rest_hooks(api(), &JsValue::UNDEFINED);
    let seen = sdk_like_complete(&rest);
    let hooks = get(&rest, "hooks");
    js_sys::Reflect::delete_property(hooks.unchecked_ref::<js_sys::Object>(), &JsValue::from_str("listParts"))
        .expect("delete");
    let up = Uploader::new(obj(&[("protocol", hooks)])).expect("hooks");
    let prefix = unique_key("etag-norepair");
    let key = format!("{prefix}/f.bin");
    let (opts, _) = recording(&key, &[]);
    alter_etag_of_put(2);
    let err = upload_err(&up, &blob(&bytes(20 * MIB, 45)), opts).await;
    alter_etag_of_put(0);
    let message = string(&err, "message").unwrap_or_default();
    assert_eq!(string(&err, "code").as_deref(), Some("BackendError"), "{message}");
    assert!(message.contains("InvalidPart"), "{message}");
    assert!(string(&err, "cause").is_some_and(|c| c.contains("listParts")), "{:?}", string(&err, "cause"));
    assert_eq!(num(&seen, "completes"), 1.0);
    assert_eq!(open_uploads(&prefix).await, 0, "the refused upload was aborted");
    assert_eq!(object_status(&key).await, 404, "no object was stored");
}

/// A hook that throws as the AWS SDK throws a 503 (the status only in
/// `$metadata.httpStatusCode`) is retried like any 5xx.
#[wasm_bindgen_test]
async fn a_hooks_aws_sdk_503_is_retried() {
    let rest = rest_hooks(api(), &JsValue::UNDEFINED);
    let seen = sdk_like_503_once(&rest);
    let up = Uploader::new(obj(&[("protocol", get(&rest, "hooks"))])).expect("hooks");
    let data = bytes(12 * MIB, 46);
    let (key, _, report) = upload_ok(&up, "sdk-503.bin", &data).await;
    assert_eq!(num(&seen, "thrown"), 1.0);
    assert_eq!(report.retries.len(), 1, "the 503 was retried once");
    assert_eq!(sha(&read_back(&key).await), sha(&data));
}

#[wasm_bindgen_test]
async fn a_hooks_init_that_fails_unreadably_is_asked_again_with_the_same_client_token() {
    let rest = rest_hooks(api(), &JsValue::UNDEFINED);
    let seen = init_garbled_once(&rest);
    let up = Uploader::new(obj(&[("protocol", get(&rest, "hooks"))])).expect("hooks");
    let data = bytes(12 * MIB, 47);
    let (key, _, report) = upload_ok(&up, "init-garbled.bin", &data).await;
    let tokens: Vec<String> =
        Array::from(&get(&seen, "tokens")).iter().map(|t| t.as_string().expect("a string token")).collect();
    assert_eq!(tokens.len(), 2, "init was asked once more");
    assert_eq!(tokens[0], tokens[1], "with the same token");
    assert!(tokens[0].len() == 32 && tokens[0].bytes().all(|b| b.is_ascii_hexdigit()), "{tokens:?}");
    assert_eq!(report.retries.len(), 1);
    assert_eq!(sha(&read_back(&key).await), sha(&data));
    assert_eq!(open_uploads(&key).await, 0, "the upload the first init created was the one completed");
    // Another upload gets another token.
    upload_ok(&up, "init-garbled-2.bin", &bytes(12 * MIB, 48)).await;
    let tokens: Vec<String> = Array::from(&get(&seen, "tokens")).iter().filter_map(|t| t.as_string()).collect();
    assert_eq!(tokens.len(), 3);
    assert_ne!(tokens[2], tokens[0]);
}

/// Hooks given as a class instance (methods on its prototype, using `this`)
/// work as a plain object's do.
#[wasm_bindgen_test]
async fn hooks_from_a_class_instance_upload() {
    let rest = rest_hooks(api(), &JsValue::UNDEFINED);
    let up = Uploader::new(obj(&[("protocol", class_hooks(&rest))])).expect("class hooks");
    let data = bytes(12 * MIB, 52);
    let (key, _, _) = upload_ok(&up, "class-hooks.bin", &data).await;
    assert_eq!(sha(&read_back(&key).await), sha(&data));
    // A misspelt hook (a function under no hook's name) is still refused.
    let hooks = get(&rest, "hooks");
    let typo = js_sys::Object::assign(&js_sys::Object::new(), hooks.unchecked_ref());
    js_sys::Reflect::set(&typo, &"signPrat".into(), &get(&hooks, "signPart")).expect("set");
    let Err(e) = Uploader::new(obj(&[("protocol", typo.into())])) else { panic!("a misspelt hook was taken") };
    assert_eq!(string(&e, "field").as_deref(), Some("hooks"));
    assert!(
        string(&e, "message").is_some_and(|m| m.contains("unknown hook \"signPrat\"")),
        "{:?}",
        string(&e, "message")
    );
}

/// With a signPut hook, a small file goes as one PUT through it, with its
/// checksum signed in and its content type kept.
#[wasm_bindgen_test]
async fn a_sign_put_hook_sends_a_small_file_as_one_put() {
    let rest = with_sign_put(rest_hooks(api(), &JsValue::UNDEFINED));
    let up = Uploader::new(obj(&[("protocol", get(&rest, "hooks"))])).expect("hooks");
    let data = bytes(300 * 1024, 51);
    let key = unique_key("sign-put.txt");
    let (opts, _) = recording(&key, &[("contentType", JsValue::from_str("text/plain"))]);
    let result = JsFuture::from(up.upload(&blob(&data), opts)).await.expect("uploaded");
    assert!(get(&result, "uploadId").is_null(), "one PUT, no multipart upload");
    assert!(string(&get(&result, "checksum"), "value").is_some(), "its checksum was signed in");
    let calls: Vec<String> = Array::from(&get(&rest, "calls")).iter().filter_map(|c| c.as_string()).collect();
    assert_eq!(calls, ["/uploads/url"], "{calls:?}");
    assert_eq!(sha(&read_back(&key).await), sha(&data));
    assert_eq!(stored_content_type(&key).await.as_deref(), Some("text/plain"));
}

/// A hook's answer of the wrong shape fails the upload with an error that
/// names the hook and what it must return; nothing is left open.
#[wasm_bindgen_test]
async fn a_hook_answer_of_the_wrong_shape_names_the_hook_and_what_it_must_return() {
    let cases = [
        (
            "createMultipartUpload",
            obj(&[("id", JsValue::from_str("x"))]),
            "its answer has no `uploadId` that is a non-empty string",
        ),
        ("signPart", JsValue::from_str("ftp://example.com/x"), "https://"),
        ("listParts", JsValue::from_str("none"), "its answer is not an array; it must return [{ PartNumber"),
        ("signParts", obj(&[("urls", Array::new().into())]), "its answer is not an array of the parts asked for"),
    ];
    for (hook, answer, needle) in cases {
        let rest = rest_hooks(api(), &JsValue::UNDEFINED);
        misshapen_hook(&rest, hook, &answer);
        let up = Uploader::new(obj(&[("protocol", get(&rest, "hooks"))])).expect("hooks");
        if hook == "listParts" {
            let Err(err) = JsFuture::from(up.list_parts("k".into(), "u".into())).await else {
                panic!("a listing of the wrong shape was taken")
            };
            assert_eq!(string(&err, "field").as_deref(), Some(hook));
            let msg = string(&err, "message").unwrap_or_default();
            assert!(msg.contains("the listParts hook returned the wrong shape") && msg.contains(needle), "{msg}");
            continue;
        }
        let key = unique_key("misshapen.bin");
        let (opts, _) = recording(&key, &[]);
        let err = upload_err(&up, &blob(&bytes(12 * MIB, 49)), opts).await;
        assert_eq!(string(&err, "code").as_deref(), Some("BackendError"));
        assert_eq!(string(&err, "field").as_deref(), Some(hook));
        let msg = string(&err, "message").unwrap_or_default();
        assert!(msg.contains(&format!("the {hook} hook returned the wrong shape")) && msg.contains(needle), "{msg}");
        // In the hook's words: not the REST reply's it is checked as.
        assert!(!msg.contains("backend's reply") && !msg.contains("upload_id"), "{msg}");
        assert_eq!(open_uploads(&key).await, 0, "nothing left open");
    }
}

/// Uploads 12 MiB of bytes of `seed` to a fresh key named after `name`
/// through REST hooks altered by `alter`, one 5 MiB part at a time, the
/// page's PUTs counted (`xhr_stats`); the hooks, the uploader, the key and
/// the error the upload must end with.
async fn upload_through_altered_hooks(
    alter: fn(&JsValue),
    name: &str,
    seed: u64,
) -> (JsValue, Uploader, String, JsValue) {
    let rest = rest_hooks(api(), &JsValue::UNDEFINED);
    alter(&rest);
    let up = one_at_a_time_hooks(&rest);
    let key = unique_key(name);
    track_xhr();
    let (opts, _) = recording(&key, &[]);
    let err = upload_err(&up, &blob(&bytes(12 * MIB, seed)), opts).await;
    (rest, up, key, err)
}

/// A backend with an off-by-one in its part numbers: asked to sign part N, it
/// signs part N + 1 (a valid URL, which S3 would take, storing the bytes as
/// the wrong part). The client reads the URL's `partNumber` and refuses the
/// reply with an error that names both numbers; nothing is sent, nothing is
/// left open.
#[wasm_bindgen_test]
async fn a_backend_signing_another_part_number_than_asked_is_refused_by_name() {
    let (_, _, key, err) = upload_through_altered_hooks(off_by_one_sign_part, "off-by-one.bin", 61).await;
    assert_eq!(string(&err, "code").as_deref(), Some("BackendError"));
    let msg = string(&err, "message").unwrap_or_default();
    assert!(msg.contains("partNumber=2") && msg.contains("part 1"), "{msg}");
    // Said once, in the hook's words (not wrapped around the REST reply's message).
    assert!(msg.starts_with("the signPart hook returned the wrong shape: its answer has a URL for"), "{msg}");
    assert_eq!(msg.matches("it must").count(), 2, "{msg}");
    assert_eq!(num(&xhr_stats(), "puts"), 0.0, "no part was sent to another part's URL");
    assert_eq!(open_uploads_soon(&key).await, 0, "nothing left open");
}

/// A backend that signs each part for another open multipart upload of the
/// same key (a stale cache, a mix-up of uploads): S3 would store the bytes
/// in that upload and answer 200. The client reads the URL's `uploadId` and
/// refuses the reply by name before any byte is sent; the other upload is
/// left as it was (no part in it).
#[wasm_bindgen_test]
async fn a_backend_signing_a_part_of_another_upload_is_refused_by_name() {
    let (rest, up, key, err) = upload_through_altered_hooks(other_upload_sign_part, "other-upload.bin", 62).await;
    let decoy = JsFuture::from(Promise::from(get(&rest, "decoy"))).await.expect("the other upload").as_string();
    let decoy = decoy.expect("its id");
    assert_eq!(string(&err, "code").as_deref(), Some("BackendError"));
    assert_eq!(string(&err, "field").as_deref(), Some("signPart"));
    let msg = string(&err, "message").unwrap_or_default();
    assert!(msg.contains(&format!("uploadId={decoy} where upload")), "{msg}");
    assert_eq!(num(&xhr_stats(), "puts"), 0.0, "no part was sent to the other upload");
    let listed = JsFuture::from(up.list_parts(key.clone(), decoy.clone())).await.expect("the other upload listed");
    assert_eq!(Array::from(&listed).length(), 0, "nothing stored in the other upload");
    let abort: Function = get(&rest, "abortDecoy").unchecked_into();
    let aborted = abort.call1(&JsValue::NULL, &JsValue::from_str(&key)).expect("abortDecoy");
    JsFuture::from(Promise::from(aborted)).await.expect("the other upload aborted");
    assert_eq!(open_uploads_soon(&key).await, 0, "nothing left open");
}

/// A backend that creates the multipart upload without the checksum
/// algorithm init is given, yet signs each part's checksum: the store (as S3)
/// refuses the first part ("Checksum Type mismatch") before storing it, and
/// the upload fails with an error that names the fix; nothing is left open.
#[wasm_bindgen_test]
async fn a_backend_creating_the_upload_without_the_checksum_algorithm_is_told_the_fix() {
    let (_, _, key, err) = upload_through_altered_hooks(init_without_checksum, "no-algorithm.bin", 63).await;
    assert_eq!(string(&err, "code").as_deref(), Some("S3Error"));
    assert_eq!(num(&err, "status"), 400.0);
    let msg = string(&err, "message").unwrap_or_default();
    assert!(msg.contains("(InvalidRequest): the upload was created without this checksum's algorithm"), "{msg}");
    assert!(msg.contains("checksum: 'none'"), "{msg}");
    assert_eq!(open_uploads_soon(&key).await, 0, "nothing left open");
}

/// A header the browser refuses to send (an invalid name) fails the upload
/// with an error that says so, without retrying it as a network failure.
#[wasm_bindgen_test]
async fn a_header_the_browser_cannot_send_is_named() {
    let headers = obj(&[("bad name", JsValue::from_str("x"))]);
    let up = Uploader::new(obj(&[("endpoint", JsValue::from_str(api())), ("headers", headers)])).expect("uploader");
    let key = unique_key("bad-header.bin");
    let (opts, report) = recording(&key, &[]);
    let err = upload_err(&up, &blob(&bytes(12 * MIB, 50)), opts).await;
    assert_eq!(string(&err, "code").as_deref(), Some("BackendError"));
    let msg = string(&err, "message").unwrap_or_default();
    assert!(msg.contains("cannot send the request"), "{msg}");
    assert!(report.borrow().retries.len() <= 1, "not retried as a network failure");
}

#[wasm_bindgen_test]
async fn an_invalid_checksum_option_is_named() {
    let Err(e) = Uploader::new(obj(&[("endpoint", JsValue::from_str(api())), ("checksum", JsValue::from_str("md5"))]))
    else {
        panic!("accepted checksum: 'md5'")
    };
    assert_eq!(string(&e, "code").as_deref(), Some("InvalidOptions"));
    assert_eq!(string(&e, "field").as_deref(), Some("checksum"));
    assert!(string(&e, "message").is_some_and(|m| m.contains("\"none\"")));
}

/// Whether the module's live runs and calls are back to `before` (or
/// below: an earlier test's may end meanwhile) a moment after an upload
/// ended: asked after two turns of the event loop, long before a garbage
/// collector would have freed what the upload left.
async fn freed(before: [i32; 2], what: &str) {
    sleep(0).await;
    sleep(0).await;
    let now = s3_multipart_wasm::live::objects();
    assert!(
        now[0] <= before[0] && now[1] <= before[1],
        "{what}: runs and calls alive [runs, calls]: {now:?}, before it {before:?}"
    );
}

/// An upload frees what it made in the module the moment it ends, whatever
/// its end (stored, failed, aborted, one PUT or multipart), and so do the
/// `Uploader`'s own calls: nothing waits for the garbage collector, so a
/// page uploading thousands of files holds only what is running.
#[wasm_bindgen_test]
async fn an_ended_upload_frees_its_run_and_calls_at_once() {
    let up = uploader(&[("partSize", JsValue::from(5 * MIB as u32))]);
    let before = s3_multipart_wasm::live::objects();
    upload_ok(&up, "live-small.bin", &bytes(1000, 60)).await;
    freed(before, "one PUT").await;
    let (key, _, _) = upload_ok(&up, "live-multi.bin", &bytes(17 * MIB, 61)).await;
    freed(before, "multipart").await;
    // An Uploader method's call (list-parts of an upload that is not there).
    let _ = JsFuture::from(up.list_parts(key, "no-such-upload".into())).await;
    freed(before, "listParts").await;
    // Aborted in the middle (its abort call, then the end).
    let (opts, report) = recording(&unique_key("live-abort.bin"), &[]);
    let handle = up.upload(&blob(&bytes(30 * MIB, 62)), opts);
    wait_parts(&report, 1).await;
    control(&handle, "abort");
    JsFuture::from(handle).await.expect_err("aborted");
    freed(before, "aborted").await;
    // Failed: the backend refuses the key.
    let _ = upload_err(&up, &blob(b"x"), obj(&[("key", JsValue::from_str("bad/../key"))])).await;
    freed(before, "refused").await;
}

/// A hook that throws what the AWS SDK throws when S3 refuses a checksum
/// (an error named, or coded, `BadDigest`, whose message does not say so)
/// ends the upload in `IntegrityError` at once: not retried as a backend
/// fault, the upload aborted, no object. The glue reads the thrown value's
/// name, code and status for the module.
#[wasm_bindgen_test]
async fn a_hook_throwing_an_sdk_bad_digest_is_an_integrity_error() {
    for field in ["name", "code"] {
        let rest = rest_hooks(api(), &JsValue::UNDEFINED);
        let seen = sdk_like_bad_digest(&rest, field);
        let up = Uploader::new(obj(&[("protocol", get(&rest, "hooks"))])).expect("hooks");
        let prefix = unique_key("sdk-bad-digest");
        let key = format!("{prefix}/f.bin");
        let (opts, report) = recording(&key, &[]);
        let err = upload_err(&up, &blob(&bytes(11 * MIB, 63)), opts).await;
        let msg = string(&err, "message").unwrap_or_default();
        assert_eq!(string(&err, "code").as_deref(), Some("IntegrityError"), "{field}: {msg}");
        assert!(msg.contains("did not match what we received"), "{field}: {msg}");
        assert!(num(&seen, "completes") <= 2.0, "{field}: not retried as a backend fault");
        assert!(report.borrow().retries.is_empty(), "{field}: no retry reported");
        assert_eq!(open_uploads_soon(&prefix).await, 0, "{field}: the upload was aborted");
        assert_eq!(object_status(&key).await, 404, "{field}: no object");
    }
}

/// `new Uploader()` (often made as the page loads) does not read the resume
/// journal while it runs: the sweep of expired entries, which reads and
/// parses every entry, waits for an idle moment (and still happens: see
/// `expired_journal_entries_are_aborted_and_forgotten`).
#[wasm_bindgen_test]
async fn making_an_uploader_reads_no_journal_entry_at_once() {
    // A journal with an entry in it, as a page that uploaded before has.
    let up = one_at_a_time();
    let key = unique_key("idle-sweep/f.bin");
    let entry = interrupted(&up, &file(&bytes(12 * MIB, 64), "f.bin", 3.0), &key, 1).await;
    start_storage_count();
    let made = Uploader::new(obj(&[("endpoint", JsValue::from_str(api()))]));
    let reads = stop_storage_count();
    assert!(made.is_ok());
    assert_eq!(reads, 0, "localStorage read {reads} times while new Uploader() ran");
    // The entry stays (it is not expired), and is discarded here.
    assert!(resumable(&up, &key).await.is_some(), "the young entry is kept");
    let id = string(&entry, "id").expect("id");
    assert_eq!(JsFuture::from(up.discard_resumable(id)).await.expect("discard"), JsValue::TRUE);
}
