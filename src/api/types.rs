//! The TypeScript declarations of the JS API (emitted into the `.d.ts`).

#[allow(unused_imports)]
use crate::prelude::*;

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Headers for backend calls, or a (possibly async) function returning them, called before every call. */
export type HeadersOption =
  | Record<string, string>
  | (() => Record<string, string> | Promise<Record<string, string>>);

/** A checksum for the store to verify: S3's algorithm name and the base64 value. */
export interface Checksum {
  algorithm: 'CRC32';
  value: string;
}

/** What a signing hook returns: the presigned URL (or an object with it and the headers signed into it). */
export type SignedUrl = string | { url: string; headers?: Record<string, string> };

/** A part as S3 lists it. */
export interface ListedPart {
  PartNumber: number;
  ETag: string;
  Size: number;
  /** The part's CRC32 (base64) as S3 lists it for an upload created with checksums: a resumed upload compares it with the file's. */
  ChecksumCRC32?: string;
}

/** The application's own backend calls (`protocol: { ... }`). Each gets an AbortSignal, aborted when the upload stops or the call takes over 30 s (complete: 330 s, as S3 may take minutes to assemble the object). */
export interface UploadHooks {
  /** `clientToken`: the same for every call of one upload (asked again when a reply was lost); a backend that keeps it answers with the upload it created. `parts` (optional): the first parts, to sign as `signParts` does and return as `urls`, so that their PUTs start when this answers; without `urls`, each is signed by `signParts`/`signPart`. */
  createMultipartUpload(args: {
    key: string;
    contentType: string;
    checksumAlgorithm?: 'CRC32';
    clientToken: string;
    parts?: Array<{ partNumber: number; checksum?: Checksum }>;
    signal: AbortSignal;
  }): Promise<{ uploadId: string; urls?: Array<{ partNumber: number; url: string; headers?: Record<string, string> }> }>;
  signPart(args: { key: string; uploadId: string; partNumber: number; checksum?: Checksum; signal: AbortSignal }): Promise<SignedUrl>;
  completeMultipartUpload(args: {
    key: string;
    uploadId: string;
    parts: Array<{ PartNumber: number; ETag: string }>;
    checksum?: Checksum;
    signal: AbortSignal;
  }): Promise<{ etag?: string | null; location?: string | null } | void>;
  abortMultipartUpload(args: { key: string; uploadId: string; signal: AbortSignal }): Promise<unknown>;
  /** Optional: without it, uploads cannot be resumed after a reload, a complete refused with `InvalidPart` (an ETag altered on its way back) is not repaired, and `listParts()` fails. */
  listParts?(args: { key: string; uploadId: string; signal: AbortSignal }): Promise<ListedPart[]>;
  /** Optional: without it every file goes multipart. */
  signPut?(args: { key: string; contentType: string; checksum?: Checksum; signal: AbortSignal }): Promise<SignedUrl>;
  /** Optional: several parts signed in one call (the parts ready together, as when init answers); returns exactly the parts given. Without it, signPart signs each. */
  signParts?(args: {
    key: string;
    uploadId: string;
    parts: Array<{ partNumber: number; checksum?: Checksum }>;
    signal: AbortSignal;
  }): Promise<Array<{ partNumber: number; url: string; headers?: Record<string, string> }>>;
  /** Optional, with `signPut`: several small files signed in one call (those that ask while two signings are on their way); returns, for each file given and in their order, its signed URL, or an `Error` for a file refused alone (that file fails, the others go on). Without it, signPut signs each. */
  signPuts?(args: {
    files: Array<{ key: string; contentType: string; checksum?: Checksum }>;
    signal: AbortSignal;
  }): Promise<Array<SignedUrl | Error>>;
}

/** Settings shared by every backend. */
interface CommonOptions {
  /** Part size in bytes, 5 MiB..5 GiB. Default: chosen for each file from 5 to 16 MiB (one part per stream for medium files, up to 16 MiB when that takes the file in one round; for large ones whole rounds of parts of 10 to 16 MiB, at most what a part's PUT takes in 15 s on the measured link); a number fixes it; `{ min, max }` bounds the choice (a bound not given is the engine's own: 5 MiB; 10 MiB, or 16 MiB for one round). On a far link (a part's round trip over a sixteenth of its PUT, measured on each whole part until it shows: the first round on new connections is slowed by TCP's slow start) the parts not yet under way grow once, up to `max` (64 MiB when not given); never with a number. It grows when a file would need over 10,000 parts. */
  partSize?: number | { min?: number; max?: number };
  /** Files of at most this many bytes go as one presigned PUT (default: a number `partSize`, else 8 MiB or `partSize.min` if larger). */
  multipartThreshold?: number;
  /** Part PUTs in flight, 1..16, shared by the uploads of one Uploader. Default: adaptive, 2..6, starting at 6 (halved on throttles and stalls, one fewer when parts get slower per byte, back up while that gives more); a number fixes it; `{ min, max }` bounds the adaptive window (defaults 2 and 6). */
  concurrency?: number | { min?: number; max?: number };
  /** Delays in ms before the 1st, 2nd, ... retry of a part (default [0, 1000, 3000, 5000, 10000]). */
  retryDelays?: number[];
  /** A part PUT with no upload progress for this many ms is cancelled and retried (default 60000; 0: never). Once its whole body is handed over it is also given twice the time answered PUTs waited for their answer (a slow uplink's send buffers draining). */
  partTimeout?: number;
  /** Send cookies with backend calls and part PUTs. */
  withCredentials?: boolean;
  /** Extra headers for backend calls (for example an Authorization header). */
  headers?: HeadersOption;
  /** `'crc32'` (default): every part's CRC32 and the whole object's are sent for the store to verify; `'none'`: nothing is verified. */
  checksum?: 'crc32' | 'none';
  /**
   * Names this backend in the resume journal (default: the endpoint, or `'hooks'`). Give each
   * backend its own when one page has several behind the same endpoint or hooks (two buckets,
   * two tenants): an upload then resumes, lists and sweeps only its own backend's uploads.
   */
  resumeScope?: string;
}

/** Options of `new Uploader(options)`: a backend over HTTP (`endpoint`), or hooks (`protocol: { ... }`). */
export type UploaderOptions =
  | (CommonOptions & {
      /** Base URL of the backend: REST paths are appended (`/uploads/...`); for `protocol: 'lambda'` the URL that takes the envelope. */
      endpoint: string;
      /** `'rest'` (default) or `'lambda'`. */
      protocol?: 'rest' | 'lambda';
    })
  | (CommonOptions & {
      /** The application's own backend calls. */
      protocol: UploadHooks;
      endpoint?: never;
    });

/** Progress of one upload. `bytesSent` never goes backwards; once a part has been answered it follows what the link delivers, not what the browser has handed to the system's send buffers. */
export interface UploadProgress {
  bytesSent: number;
  bytesTotal: number;
  partsDone: number;
  /** The parts of the upload's plan; drops once when a far link's parts grow (see `partSize`). */
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
  /** The whole object's checksum that the store verified, or null when none was sent (`checksum: 'none'`, or a backend that did not sign the checksums it was given). */
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

/** The stable error codes of `UploadError.code`. */
export type UploadErrorCode =
  | 'InvalidOptions'
  | 'FileTooLarge'
  | 'BackendError'
  | 'S3Error'
  | 'EtagNotExposed'
  | 'NetworkError'
  | 'IntegrityError'
  | 'FileReadError'
  | 'Aborted';

/** Every error of this package: `err instanceof UploadError` works (both builds, and inside a Worker). */
export declare class UploadError extends Error {
  name: 'UploadError';
  code: UploadErrorCode;
  /** HTTP status, when an HTTP reply caused the error. */
  status: number | null;
  /** The part, when one part caused the error. */
  partNumber: number | null;
  /** The option or reply field at fault (InvalidOptions, BackendError). */
  field: string | null;
  cause?: unknown;
  private constructor();
}
"#;
