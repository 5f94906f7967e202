//! The TypeScript declarations of the JS API (emitted into the `.d.ts`).

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Options of `new Uploader(options)`. */
export interface UploaderOptions {
  /** Base URL of the backend: REST paths are appended (`/uploads/...`); for `protocol: 'lambda'` the URL that takes the envelope. */
  endpoint: string;
  /** `'rest'` (default) or `'lambda'`. */
  protocol?: 'rest' | 'lambda';
  /** Wanted part size in bytes, 5 MiB..5 GiB (default 8 MiB); grows when a file would need over 10,000 parts. */
  partSize?: number;
  /** Files of at most this many bytes go as one presigned PUT (default: one part, 8 MiB). */
  multipartThreshold?: number;
  /** Part PUTs in flight at most, 1..16 (default 4). */
  concurrency?: number;
  /** Delays in ms before the 1st, 2nd, ... retry of a part (default [0, 1000, 3000, 5000, 10000]). */
  retryDelays?: number[];
  /** A part PUT with no upload progress for this many ms is cancelled and retried (default 60000; 0: never). */
  partTimeout?: number;
  /** Send cookies with backend calls and part PUTs. */
  withCredentials?: boolean;
  /** Extra headers for backend calls (for example an Authorization header). */
  headers?: Record<string, string>;
  /** `'crc32'` (default): every part's CRC32 and the whole object's are sent for the store to verify; `'none'`: nothing is verified. */
  checksum?: 'crc32' | 'none';
}

/** Progress of one upload. `bytesSent` never goes backwards. */
export interface UploadProgress {
  bytesSent: number;
  bytesTotal: number;
  partsDone: number;
  partsTotal: number;
  /** 0..100 */
  percent: number;
  /** Bytes per second, moving average (0 until measured). */
  speed: number;
  /** Seconds left at the current speed, null until measured. */
  eta: number | null;
}

/** Options of `uploader.upload(file, options)`. */
export interface UploadOptions {
  /** Object key, for example `"uploads/video.mp4"`. */
  key: string;
  /** MIME type (default: the file's type, else application/octet-stream). */
  contentType?: string;
  /** Aborts the upload when signalled. */
  signal?: AbortSignal;
  /** Resume an upload of the same file (same key) that a page reload interrupted (default true). */
  resume?: boolean;
  /** Called before a resumed upload goes on. */
  onResume?: (info: { uploadId: string; partsDone: number; bytesDone: number }) => void;
  onProgress?: (progress: UploadProgress) => void;
  onPartComplete?: (part: { partNumber: number; etag: string; size: number }) => void;
  onRetry?: (retry: { partNumber: number | null; attempt: number; delay: number; error: UploadError }) => void;
}

/** An upload a page reload interrupted, from `uploader.resumableUploads()`. */
export interface ResumableUpload {
  /** For `uploader.discardResumable(id)`. */
  id: string;
  key: string;
  name: string;
  size: number;
  uploadId: string;
  partsDone: number;
  createdAt: number;
  updatedAt: number;
}

/** A finished upload. */
export interface UploadResult {
  key: string;
  /** null for a file sent as one PUT. */
  uploadId: string | null;
  etag: string | null;
  location: string | null;
  size: number;
  /** The whole object's checksum that the store verified, or null when none was sent. */
  checksum: { algorithm: 'CRC32'; value: string } | null;
}

/** The promise of an upload, with controls. */
export interface UploadHandle extends Promise<UploadResult> {
  /** Stops sending; parts already stored are kept. */
  pause(): void;
  /** Goes on after `pause()`. */
  resume(): void;
  /** Stops, deletes the multipart upload on the backend, rejects with code "Aborted". */
  abort(): void;
}

/** Every error of this package. */
export interface UploadError extends Error {
  name: 'UploadError';
  code:
    | 'InvalidOptions'
    | 'FileTooLarge'
    | 'BackendError'
    | 'S3Error'
    | 'EtagNotExposed'
    | 'NetworkError'
    | 'IntegrityError'
    | 'FileReadError'
    | 'Aborted';
  status: number | null;
  partNumber: number | null;
  field: string | null;
  cause?: unknown;
}
"#;
