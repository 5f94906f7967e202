import type { UploaderOptions, UploadProgress, UploadResult, UploadError } from './bundler/index.js';

/** Options of `attach()`: those of `new Uploader()`, plus how keys are made and labels. */
export type WidgetOptions = UploaderOptions & {
  /** Keys are `keyPrefix + file.name` (default prefix ""). */
  keyPrefix?: string;
  /** Or any key for a file. */
  key?: (file: File) => string;
  /** Label of the choose button (default "Choose files"). */
  buttonLabel?: string;
  /** Text above the button (default "Drop files here, or"). */
  hint?: string;
};

export interface AttachedWidget {
  /** The panel, inserted after the input. */
  element: HTMLElement;
  /** Each file's state: waiting, uploading, paused, done, error, cancelled. */
  readonly uploads: Array<{ file: File; state: string; result?: UploadResult }>;
  /** Forgets the finished uploads (done, cancelled, failed): their rows leave the list. */
  clear(): void;
  /**
   * Cancels the uploads still running (their multipart uploads are deleted),
   * removes the widget's listener from the input and the panel, and shows the
   * input again. Nothing of the widget is left running.
   */
  detach(): void;
}

/** Turns `<input type="file">` into an uploader with a file list, progress, pause/resume/cancel/retry and drag and drop. */
export function attach(input: HTMLInputElement, options: WidgetOptions): AttachedWidget;

/** Registers the custom element `<s3-upload endpoint="/api" key-prefix="uploads/" multiple>` (or another tag). */
export function defineElement(tag?: string): CustomElementConstructor;

declare global {
  interface HTMLElementEventMap {
    'upload-progress': CustomEvent<{ file: File; progress: UploadProgress }>;
    'upload-complete': CustomEvent<{ file: File; result: UploadResult }>;
    'upload-error': CustomEvent<{ file: File; error: UploadError }>;
  }
}
