// Document lists kept current from change events. A list (the threads of a space, its notes,
// your journal) is loaded from the core once; after that each change event for one of its
// documents fetches just that document's summary and patches the list, so opening the list
// again shows it at once and a list of 8,000 threads (~3 MB from the core) is not fetched
// again after every reply. When events were lost (lagged) or a burst touches many documents,
// the list is marked stale and loaded whole the next time it is shown.

import type { ChangeEvent, DocId, DocSummary } from './bindings';
import { isLagged, type Backend, type ChangeNotice } from './backend';

/** More changed documents than this in one burst reload the whole list instead. */
const MAX_PATCH = 50;
/** How long changes are collected before the list is patched. */
const PATCH_WAIT = 100;

export interface LiveListSpec {
  /** Loads the whole list (in the core's order: newest change first). */
  load: () => Promise<DocSummary[]>;
  /** Whether a change event concerns a document of this list. */
  concerns: (e: ChangeEvent) => boolean;
  /** Whether a document (by its current summary) belongs in the list. */
  accepts: (s: DocSummary) => boolean;
}

/** The core's list order: most recently changed first, then by id. */
export function byRecentChange(a: DocSummary, b: DocSummary): number {
  return b.updated_at - a.updated_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export class LiveList {
  private items: DocSummary[] | null = null;
  private stale = true;
  private loading: Promise<DocSummary[]> | null = null;
  private readonly changed = new Map<DocId, ChangeEvent>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly watchers = new Set<(items: DocSummary[]) => void>();

  constructor(
    private readonly backend: Backend,
    private readonly spec: LiveListSpec,
  ) {
    backend.onChange((e) => this.onChange(e));
  }

  /** The list as last known (possibly stale), or null before the first load. */
  get current(): DocSummary[] | null {
    return this.items;
  }

  /**
   * Follows the list: `cb` gets it now if known, and every new version; the list is loaded
   * if it was never loaded or is stale. Returns the unsubscribe function.
   */
  watch(cb: (items: DocSummary[]) => void): () => void {
    this.watchers.add(cb);
    if (this.items) cb(this.items);
    if (this.stale) void this.reload().catch(() => {});
    return () => {
      this.watchers.delete(cb);
    };
  }

  /** Loads the whole list now (one load at a time). */
  reload(): Promise<DocSummary[]> {
    if (!this.loading) {
      this.stale = false;
      this.loading = this.spec
        .load()
        .then((items) => {
          this.set(items);
          return items;
        })
        .catch((e: unknown) => {
          this.stale = true;
          throw e;
        })
        .finally(() => {
          this.loading = null;
        });
    }
    return this.loading;
  }

  private set(items: DocSummary[]): void {
    this.items = items;
    for (const cb of [...this.watchers]) cb(items);
  }

  private onChange(e: ChangeNotice): void {
    if (isLagged(e)) {
      this.markStale();
      return;
    }
    if (!this.spec.concerns(e) || this.items === null) return;
    this.changed.set(e.doc, e);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.patch();
    }, PATCH_WAIT);
  }

  private markStale(): void {
    this.changed.clear();
    this.stale = true;
    if (this.watchers.size > 0) void this.reload().catch(() => {});
  }

  private async patch(): Promise<void> {
    // A whole load on its way may predate these changes: patch what it brings.
    if (this.loading) await this.loading.catch(() => {});
    const batch = [...this.changed.values()];
    this.changed.clear();
    if (batch.length === 0) return;
    if (batch.length > MAX_PATCH) {
      // Many changes at once (a first sync, an import): load the whole list.
      this.markStale();
      return;
    }
    const summaries = await Promise.all(
      batch.map(async (e) => {
        if (e.change === 'deleted') return { id: e.doc, summary: null };
        try {
          return { id: e.doc, summary: await this.backend.call('summary', { id: e.doc }) };
        } catch {
          return { id: e.doc, summary: null };
        }
      }),
    );
    if (this.items === null || this.stale) return;
    const byId = new Map(this.items.map((s) => [s.id, s]));
    for (const { id, summary } of summaries) {
      if (summary && this.spec.accepts(summary)) byId.set(id, summary);
      else byId.delete(id);
    }
    this.set([...byId.values()].sort(byRecentChange));
  }
}
