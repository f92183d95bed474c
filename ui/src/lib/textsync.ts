// Keeps an open editor and a document body in step.
//
// Local edits are queued as splices and sent in order, batched (at most one call in flight,
// sent `delay` ms after typing pauses or at least every `maxWait` ms). When a change event
// says the document changed, the body is fetched and shown in the editor as the smallest
// change, but only when no local edit is queued or in flight and none happened while the
// body was being fetched (otherwise the fetch is retried after the queue drains), so a
// remote edit never overwrites what the user just typed.
//
// If the core refuses a batch (e.g. the body moved on in a way the splices no longer fit), the
// editor's whole text is sent as a replacement instead, so what the user typed is never lost.

import type { Splice } from './bindings';

/** Where local edits stand. */
export type SyncStatus = 'saved' | 'saving' | 'error';

export interface TextSyncOptions {
  /** Sends splices to the core. */
  send: (splices: Splice[]) => Promise<unknown>;
  /** Replaces the whole body (fallback when splices are refused). */
  replace: (text: string) => Promise<unknown>;
  /** Reads the current body from the core. */
  fetch: () => Promise<string>;
  /** The editor's text. */
  editorText: () => string;
  /** Shows a remote body in the editor. */
  showRemote: (text: string) => void;
  onStatus?: (status: SyncStatus) => void;
  onError?: (e: unknown) => void;
  delay?: number;
  maxWait?: number;
}

export class TextSync {
  private queue: Splice[] = [];
  private inflight: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private firstQueuedAt = 0;
  private localVersion = 0;
  private remotePending = false;
  private fetching = false;
  private closed = false;
  private failed = false;
  private readonly o: Required<Omit<TextSyncOptions, 'onStatus' | 'onError'>> & Pick<TextSyncOptions, 'onStatus' | 'onError'>;

  constructor(options: TextSyncOptions) {
    this.o = { delay: 250, maxWait: 1000, ...options };
  }

  /** Local edits from the editor. */
  push(splices: Splice[]): void {
    if (this.closed || splices.length === 0) return;
    if (this.queue.length === 0) this.firstQueuedAt = Date.now();
    this.queue.push(...splices);
    this.localVersion++;
    this.o.onStatus?.('saving');
    if (this.timer) clearTimeout(this.timer);
    const waited = Date.now() - this.firstQueuedAt;
    const wait = waited >= this.o.maxWait ? 0 : Math.min(this.o.delay, this.o.maxWait - waited);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, wait);
  }

  /** Whether local edits are waiting or on their way. */
  get busy(): boolean {
    return this.queue.length > 0 || this.inflight !== null || this.timer !== null;
  }

  /** Sends everything queued now; resolves when the queue is empty. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.inflight || this.queue.length) {
      if (this.inflight) {
        await this.inflight;
        continue;
      }
      const batch = this.queue.splice(0);
      this.inflight = this.sendBatch(batch).finally(() => {
        this.inflight = null;
      });
    }
    if (!this.failed) this.o.onStatus?.('saved');
    if (this.remotePending) void this.refresh();
  }

  private async sendBatch(batch: Splice[]): Promise<void> {
    try {
      await this.o.send(batch);
      this.failed = false;
    } catch (e) {
      // The core's body and the editor disagree: send the editor's text as a whole.
      try {
        await this.o.replace(this.o.editorText());
        this.queue = [];
        this.failed = false;
        this.o.onError?.(e);
      } catch (e2) {
        this.failed = true;
        this.o.onStatus?.('error');
        this.o.onError?.(e2);
      }
    }
  }

  /** Retries after a failure by sending the editor's whole text. */
  async retry(): Promise<void> {
    this.queue = [];
    try {
      await this.o.replace(this.o.editorText());
      this.failed = false;
      this.o.onStatus?.('saved');
    } catch (e) {
      this.o.onStatus?.('error');
      this.o.onError?.(e);
    }
  }

  /** The document changed (here or elsewhere): show the core's body when it is safe. */
  remoteChanged(): void {
    this.remotePending = true;
    if (!this.busy) void this.refresh();
  }

  private async refresh(): Promise<void> {
    if (this.closed || this.fetching || this.busy || this.failed) return;
    this.remotePending = false;
    this.fetching = true;
    const version = this.localVersion;
    let body: string;
    try {
      body = await this.o.fetch();
    } catch (e) {
      this.fetching = false;
      this.o.onError?.(e);
      return;
    }
    this.fetching = false;
    if (this.closed) return;
    if (version !== this.localVersion || this.busy) {
      // The user typed while we fetched: try again once their edits are in.
      this.remotePending = true;
      return;
    }
    if (body !== this.o.editorText()) this.o.showRemote(body);
    if (this.remotePending) void this.refresh();
  }

  /** Sends what is queued and stops. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }
}
