import type { ReactElement } from 'react';
import type { UploadError, UploaderOptions, UploadOptions, UploadProgress, UploadResult } from './web/index.js';
import type { WidgetOptions } from './widget.js';

/** What `useUpload` is doing. */
export type UploadState = 'idle' | 'uploading' | 'paused' | 'done' | 'error' | 'aborted';

/** Options of `useUpload`: those of `new Uploader()`, plus what happens on unmount. */
export type UseUploadOptions = UploaderOptions & {
  /** On unmount, pause the running upload (it stays resumable) instead of aborting it (the default). */
  keepOnUnmount?: boolean;
};

export interface UseUpload {
  state: UploadState;
  progress: UploadProgress | null;
  result: UploadResult | null;
  error: UploadError | null;
  /** Starts an upload; resolves to its result, or null when it failed or was aborted (see `error`). */
  upload(file: Blob, options: UploadOptions): Promise<UploadResult | null>;
  pause(): void;
  resume(): void;
  /** Aborts: the multipart upload is deleted, `state` becomes 'aborted'. */
  abort(): void;
  /** Back to 'idle' after an upload ended. */
  reset(): void;
}

/** One upload at a time as React state. A running upload is aborted on unmount (or paused with `keepOnUnmount`). */
export function useUpload(options: UseUploadOptions): UseUpload;

export type UploadInputProps = WidgetOptions & {
  onComplete?: (result: UploadResult, file: File) => void;
  onError?: (error: UploadError, file: File) => void;
  /** Default true. */
  multiple?: boolean;
  accept?: string;
  id?: string;
};

/** A file input with the drop-in widget; its running uploads are cancelled on unmount. */
export function UploadInput(props: UploadInputProps): ReactElement;
