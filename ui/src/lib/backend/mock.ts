// An in-memory backend with the core's behaviour, for component tests and UI development.
// It keeps documents as the core's DTOs, emits change events after every mutation, resolves
// thread anchors as UTF-16 ranges that follow splices, and can simulate remote edits and
// sync events.

import type {
  AnchorState,
  ChangeEvent,
  ChangeKind,
  Charter,
  Course,
  DocId,
  DocKind,
  DeviceView,
  DocSummary,
  HistoryEntry,
  ItemId,
  JournalEntry,
  JsonValue,
  Lesson,
  LinkingView,
  LessonProgress,
  Me,
  MemberView,
  Note,
  PeerView,
  PersonId,
  Post,
  Progress,
  Role,
  SearchResult,
  SpaceId,
  SpaceInfo,
  SpaceSyncView,
  Splice,
  SyncNotice,
  Thread,
  ThreadKind,
  Timestamp,
} from '../bindings';
import type { StartupMarks } from '../perf';
import { applySplice, transformRange } from '../text';
import {
  BackendError,
  Listeners,
  type Args,
  type Backend,
  type ChangeNotice,
  type Cmd,
  type MenuAction,
  type Result,
} from './types';

interface Meta {
  id: DocId;
  space: SpaceId;
  kind: DocKind;
  created_at: Timestamp;
  updated_at: Timestamp;
  deleted: boolean;
}

interface ThreadRecord {
  thread: Thread;
  /** The anchored passage now; `null` once detached. Unused for threads without anchor. */
  range: [number, number] | null;
}

interface Member {
  person: PersonId;
  name: string;
  role: Role;
  devices: number;
}

/** Options of {@link MockBackend}. */
export interface MockOptions {
  /** Seed a cohort with a course, lessons, threads, a journal entry and a note (default true). */
  seed?: boolean;
  /** Your role in the seeded cohort (default facilitator). */
  role?: Role;
  /** Your display name (default "Learner", the core's first-run name). */
  displayName?: string;
  /** The clock (default: a fixed start that advances one second per reading). */
  now?: () => Timestamp;
  /** Whether the sync commands exist (default true). */
  sync?: boolean;
}

type Handler<K extends Cmd> = (args: Args<K>) => Result<K>;
type Handlers = { [K in Cmd]: Handler<K> };

const REACTION_MAX = 32;

function hex(n: number, prefix: number): string {
  return (prefix.toString(16).padStart(8, '0') + n.toString(16).padStart(24, '0')).slice(0, 32);
}

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/** An in-memory {@link Backend} for tests. */
export class MockBackend implements Backend {
  /** Every call made, in order (for assertions). */
  readonly calls: Array<{ cmd: Cmd; args: unknown }> = [];
  readonly me: Me;
  readonly cohort: SpaceId;
  readonly ids: Record<string, string> = {};
  private readonly changes = new Listeners<ChangeNotice>();
  private readonly syncs = new Listeners<SyncNotice>();
  private readonly deepLinks = new Listeners<string>();
  private readonly menus = new Listeners<MenuAction>();
  /** While set, mutations emit no change events (as if the stream had dropped them). */
  private muted = false;
  private readonly failures = new Map<Cmd, BackendError[]>();
  private readonly clock: () => Timestamp;
  private readonly syncEnabled: boolean;
  private counter = 0;
  /** Spaces held; `spaces` adds the person's role in each from `members`. */
  private spaces: Omit<SpaceInfo, 'role'>[] = [];
  private meta = new Map<DocId, Meta>();
  private charters = new Map<SpaceId, Charter>();
  private members = new Map<SpaceId, Member[]>();
  private courses = new Map<DocId, Course>();
  private lessons = new Map<DocId, Lesson>();
  private threads = new Map<DocId, ThreadRecord>();
  private notes = new Map<DocId, Note>();
  private journals = new Map<DocId, JournalEntry>();
  private progress = new Map<SpaceId, Progress>();
  private histories = new Map<DocId, HistoryEntry[]>();
  private people = new Map<PersonId, string>();
  private devices = new Map<string, PersonId>();
  private peerList: PeerView[] = [];
  private lastSync = new Map<SpaceId, Timestamp>();
  private pending = new Map<SpaceId, number>();
  /** Documents received from peers and not yet indexed, per space (`sync_status`). */
  private indexing = new Map<SpaceId, number>();
  private invites = new Map<string, { space: SpaceId; role: Role; uses: number }>();
  private deviceLinks = new Set<string>();
  private myDevices: DeviceView[] = [];
  /** A pending `device_add` on this device (`device_linking`). */
  private linking: LinkingView | null = null;

  constructor(options: MockOptions = {}) {
    let t = 1_700_000_000_000;
    this.clock =
      options.now ??
      (() => {
        t += 1000;
        return t;
      });
    this.syncEnabled = options.sync ?? true;
    this.me = {
      person: this.newId(1),
      display_name: options.displayName ?? 'Learner',
      personal_space: this.newId(2),
      device: 'd'.repeat(8) + this.newId(3).slice(8) + this.newId(3),
    };
    this.people.set(this.me.person, this.me.display_name);
    this.devices.set(this.me.device, this.me.person);
    this.spaces.push({ id: this.me.personal_space, name: 'Personal', personal: true });
    this.myDevices.push({
      device: this.me.device,
      name: 'this computer',
      this_device: true,
      linked_at: null,
      connected: true,
      last_seen: null,
    });
    this.cohort = '';
    if (options.seed ?? true) this.cohort = this.seed(options.role ?? 'facilitator');
  }

  // ------------------------------------------------------------------ Backend ---

  async call<K extends Cmd>(cmd: K, args: Args<K>): Promise<Result<K>> {
    this.calls.push({ cmd, args: clone(args) });
    await Promise.resolve();
    const queued = this.failures.get(cmd);
    if (queued && queued.length > 0) throw queued.shift();
    const handler = (this.handlers as unknown as Record<string, Handler<K> | undefined>)[cmd];
    if (!handler || (!this.syncEnabled && SYNC_COMMANDS.has(cmd))) {
      throw new BackendError('invalid_input', `unknown command ${cmd}`);
    }
    const result = handler(clone(args ?? ({} as Args<K>)));
    return clone(result);
  }

  onChange(cb: (e: ChangeNotice) => void): () => void {
    return this.changes.add(cb);
  }

  onSync(cb: (e: SyncNotice) => void): () => void {
    return this.syncs.add(cb);
  }

  onDeepLink(cb: (ticket: string) => void): () => void {
    return this.deepLinks.add(cb);
  }

  onMenu(cb: (action: MenuAction) => void): () => void {
    return this.menus.add(cb);
  }

  /** The startup marks the app reported (the desktop shell logs them). */
  readonly startupReports: StartupMarks[] = [];

  reportStartup(marks: StartupMarks): void {
    this.startupReports.push(marks);
  }

  // ------------------------------------------------------------- test helpers ---

  /** Makes the next call of `cmd` fail with `{ code, message }`. */
  failNext(cmd: Cmd, code: BackendError['code'] = 'internal', message = `${cmd} failed`): void {
    const list = this.failures.get(cmd) ?? [];
    list.push(new BackendError(code, message));
    this.failures.set(cmd, list);
  }

  /** Calls of one command. */
  callsOf<K extends Cmd>(cmd: K): Array<Args<K>> {
    return this.calls.filter((c) => c.cmd === cmd).map((c) => c.args as Args<K>);
  }

  /** The current body of a lesson. */
  lessonBody(id: DocId): string {
    return this.mustLesson(id).body;
  }

  /** Simulates an edit that arrived from another peer. */
  remoteSplice(lesson: DocId, splice: Splice, author?: PersonId): void {
    this.spliceLesson(lesson, [splice], 'imported', author);
  }

  /** Simulates a reply that arrived from another peer. */
  remoteReply(thread: DocId, author: PersonId, body: string): ItemId {
    const id = this.addPost(thread, author, body, null);
    this.touch(thread, 'reply', 'imported', author);
    return id;
  }

  /** Emits a sync event. */
  emitSync(e: SyncNotice): void {
    this.syncs.emit(e);
  }

  /** Emits a deep link, as the desktop shell does for `cohort://join/<ticket>`. */
  emitDeepLink(ticket: string): void {
    this.deepLinks.emit(ticket);
  }

  /** Emits a native menu action, as the desktop shell does for its menu bar. */
  emitMenu(action: MenuAction): void {
    this.menus.emit(action);
  }

  /**
   * Runs `fn` without emitting change events for what it changes, as if the event stream
   * had dropped them (follow with {@link emitLagged} to say so).
   */
  async withoutEvents(fn: () => unknown): Promise<void> {
    this.muted = true;
    try {
      await fn();
    } finally {
      this.muted = false;
    }
  }

  /** Says that change events were lost: subscribers must reload what they show. */
  emitLagged(): void {
    setTimeout(() => this.changes.emit({ lagged: true }), 0);
  }

  /** How many change subscribers there are (to check that views unsubscribe). */
  get changeListeners(): number {
    return this.changes.size;
  }

  /** A person of the seeded cohort by name. */
  personNamed(name: string): PersonId {
    for (const [id, n] of this.people) if (n === name) return id;
    throw new Error(`no person named ${name}`);
  }

  /**
   * Simulates another device of this person being linked (a redeemed device-link ticket
   * arriving): it joins the device list and the personal space's membership log changes.
   */
  linkOtherDevice(name: string, seen: { connected?: boolean; lastSeen?: Timestamp | null } = {}): string {
    const device = 'e'.repeat(8) + this.newId(3).slice(8) + this.newId(3);
    const at = this.now();
    const connected = seen.connected ?? true;
    this.myDevices.push({ device, name, this_device: false, linked_at: at, connected, last_seen: connected ? at : (seen.lastSeen ?? null) });
    this.devices.set(device, this.me.person);
    this.emitPersonal('membership');
    return device;
  }

  /** Simulates `count` documents received from a peer in `space` and still being indexed. */
  receiveUnindexed(space: SpaceId, count: number): void {
    this.indexing.set(space, count);
  }

  /** Simulates one of the person's devices refusing this device's pending link. */
  refuseLink(message: string, hopeless: boolean): void {
    if (!this.linking) throw new Error('no pending device link');
    this.linking = { ...this.linking, refused: message, hopeless };
    this.syncs.emit({ kind: 'refused', space: this.linking.space, device: null, message });
  }

  /**
   * Simulates the pending link finishing: this device takes the person's identity
   * (`displayName`), and their other device (`other`) appears in the device list.
   */
  finishLink(displayName: string, other = 'laptop'): void {
    const link = this.linking;
    if (!link) throw new Error('no pending device link');
    this.linking = null;
    const old = this.me.personal_space;
    this.me.person = link.person;
    this.me.personal_space = link.space;
    this.me.display_name = displayName;
    this.people.set(link.person, displayName);
    this.spaces = this.spaces.map((s) => (s.id === old ? { ...s, id: link.space } : s));
    const at = this.now();
    this.myDevices.push({ device: 'f'.repeat(8) + this.newId(3).slice(8) + this.newId(3), name: other, this_device: false, linked_at: at, connected: true, last_seen: at });
    this.emitPersonal('profile');
    this.syncs.emit({ kind: 'admitted', space: link.space, device: null, message: `this device is now linked to ${displayName}` });
  }

  /** Adds `n` notes to a space (for list virtualization tests). */
  addManyNotes(space: SpaceId, n: number): void {
    for (let i = 0; i < n; i++) this.createNote(space, `Note ${i + 1}`, `Body ${i + 1}`, [], null, this.me.person);
  }

  // ----------------------------------------------------------------- internals ---

  private newId(prefix = 9): string {
    this.counter++;
    return hex(this.counter, prefix);
  }

  private now(): Timestamp {
    return this.clock();
  }

  private header(id: DocId) {
    const m = this.mustMeta(id);
    return { schema: 1, kind: m.kind, id, space: m.space, deleted: m.deleted };
  }

  private mustMeta(id: DocId): Meta {
    const m = this.meta.get(id);
    if (!m) throw new BackendError('not_found', `document ${id} not found`);
    return m;
  }

  private mustSpace(space: SpaceId): Omit<SpaceInfo, 'role'> {
    const s = this.spaces.find((x) => x.id === space);
    if (!s) throw new BackendError('not_found', `space ${space} not found`);
    return s;
  }

  private mustLesson(id: DocId): Lesson {
    const l = this.lessons.get(id);
    if (!l) throw new BackendError('not_found', `lesson ${id} not found`);
    l.header = this.header(id);
    return l;
  }

  private mustThread(id: DocId): ThreadRecord {
    const t = this.threads.get(id);
    if (!t) throw new BackendError('not_found', `thread ${id} not found`);
    t.thread.header = this.header(id);
    return t;
  }

  private mustCourse(id: DocId): Course {
    const c = this.courses.get(id);
    if (!c) throw new BackendError('not_found', `course ${id} not found`);
    c.header = this.header(id);
    return c;
  }

  private mustCharter(space: SpaceId): Charter {
    const c = this.charters.get(space);
    if (!c) throw new BackendError('not_found', `space ${space} has no charter (it is not a cohort)`);
    return c;
  }

  private requireText(what: string, value: string): string {
    const v = value.trim();
    if (!v) throw new BackendError('invalid_input', `${what} must not be empty`);
    return v;
  }

  private roleOf(space: SpaceId): Role | null {
    if (space === this.me.personal_space) return 'facilitator';
    return this.members.get(space)?.find((m) => m.person === this.me.person)?.role ?? null;
  }

  private requireRole(space: SpaceId, roles: Role[], what: string): void {
    const role = this.roleOf(space);
    if (!role || !roles.includes(role)) {
      throw new BackendError('invalid_input', `only a ${roles.join(' or ')} can ${what}`);
    }
  }

  /** Refuses `device_add` where the data dir holds anything of its own, as the core does. */
  private requireFresh(): void {
    const cohorts = this.spaces.filter((s) => !s.personal).length;
    const own = [...this.meta.values()].filter((m) => m.space === this.me.personal_space).length;
    const devices = this.myDevices.length;
    if (cohorts > 0 || own > 0 || devices > 1) {
      throw new BackendError(
        'invalid_input',
        `this data dir already holds its own data (${cohorts} cohort(s), ${own} private document(s), ${devices} device(s)); add the new device with a new data dir (--data-dir)`,
      );
    }
  }

  /** A change event of the personal space's profile or membership log (which the mock does not keep as documents). */
  private emitPersonal(kind: 'profile' | 'membership'): void {
    if (this.muted) return;
    const event: ChangeEvent = { doc: `${kind === 'profile' ? 'c' : 'd'}${this.me.personal_space.slice(1)}`, space: this.me.personal_space, kind, change: 'imported' };
    setTimeout(() => this.changes.emit(event), 0);
  }

  private emit(doc: DocId, change: ChangeKind): void {
    if (this.muted) return;
    const m = this.mustMeta(doc);
    const event: ChangeEvent = { doc, space: m.space, kind: m.kind, change };
    setTimeout(() => this.changes.emit(event), 0);
  }

  private record(doc: DocId, message: string, author: PersonId = this.me.person): void {
    const list = this.histories.get(doc) ?? [];
    const actor = [...this.devices.entries()].find(([, p]) => p === author)?.[0] ?? this.me.device;
    list.push({
      hash: this.newId(0xabc).padEnd(64, '0'),
      actor,
      author: this.people.get(author) ?? null,
      at: Math.floor(this.now() / 1000) * 1000,
      message,
      ops: 1,
    });
    this.histories.set(doc, list);
  }

  private create(kind: DocKind, space: SpaceId, message: string, author: PersonId = this.me.person): { id: DocId; at: Timestamp } {
    this.mustSpace(space);
    const id = this.newId();
    const at = this.now();
    this.meta.set(id, { id, space, kind, created_at: at, updated_at: at, deleted: false });
    this.record(id, message, author);
    this.pending.set(space, (this.pending.get(space) ?? 0) + 1);
    return { id, at };
  }

  private touch(doc: DocId, message: string, change: ChangeKind = 'updated', author: PersonId = this.me.person): void {
    const m = this.mustMeta(doc);
    m.updated_at = this.now();
    this.record(doc, message, author);
    if (change !== 'imported') this.pending.set(m.space, (this.pending.get(m.space) ?? 0) + 1);
    this.emit(doc, change);
  }

  private summary(id: DocId): DocSummary {
    const m = this.mustMeta(id);
    let title = '';
    let parent: DocId | null = null;
    let info: JsonValue = null;
    switch (m.kind) {
      case 'course': {
        const c = this.mustCourse(id);
        title = c.title;
        info = { modules: c.modules.length, lessons: c.modules.reduce((n, mod) => n + mod.lessons.length, 0) };
        break;
      }
      case 'lesson': {
        const l = this.mustLesson(id);
        title = l.title;
        parent = l.course;
        info = { checklist: l.checklist.length, questions: l.questions.length };
        break;
      }
      case 'thread': {
        const t = this.mustThread(id).thread;
        title = t.title;
        parent = t.lesson;
        info = {
          thread_kind: t.kind,
          posts: t.posts.length,
          accepted: t.accepted,
          anchored: t.anchor !== null,
          created_by: t.created_by,
        };
        break;
      }
      case 'note': {
        const n = this.notes.get(id);
        title = n?.title ?? '';
        parent = n?.source ?? null;
        info = { tags: n?.tags ?? [] };
        break;
      }
      case 'journal_entry': {
        const j = this.journals.get(id);
        title = j?.title ?? '';
        parent = j?.shared_from ?? null;
        info = { tags: j?.tags ?? [], shared_as: j?.shared_as ?? null };
        break;
      }
      case 'charter': {
        const c = this.charters.get(m.space);
        title = c?.name ?? '';
        info = { milestones: c?.milestones.length ?? 0 };
        break;
      }
      default:
        title = m.kind;
    }
    return { id, space: m.space, kind: m.kind, title, parent, created_at: m.created_at, updated_at: m.updated_at, info };
  }

  private list(kinds: DocKind[], space: SpaceId | null | undefined, parent: DocId | null | undefined): DocSummary[] {
    const out: DocSummary[] = [];
    for (const m of this.meta.values()) {
      if (m.deleted || !kinds.includes(m.kind)) continue;
      if (space && m.space !== space) continue;
      // Private journal entries are listed only through `journal`.
      const s = this.summary(m.id);
      if (parent && s.parent !== parent) continue;
      out.push(s);
    }
    return out.sort((a, b) => b.updated_at - a.updated_at || a.id.localeCompare(b.id));
  }

  private anchorState(rec: ThreadRecord): AnchorState | null {
    const anchor = rec.thread.anchor;
    if (!anchor) return null;
    const lesson = this.lessons.get(anchor.lesson);
    if (!lesson) return null;
    if (!rec.range) return { state: 'detached' };
    const [start, end] = rec.range;
    return { state: 'attached', start, end, text: lesson.body.slice(start, end) };
  }

  private spliceLesson(id: DocId, splices: Splice[], change: ChangeKind, author: PersonId = this.me.person): void {
    const lesson = this.mustLesson(id);
    let body = lesson.body;
    for (const s of splices) {
      if (!Number.isInteger(s.pos) || !Number.isInteger(s.delete) || s.pos < 0 || s.delete < 0 || s.pos + s.delete > body.length) {
        throw new BackendError('invalid_edit', `splice ${s.pos}..${s.pos + s.delete} is outside a text of ${body.length} UTF-16 code units`);
      }
      body = applySplice(body, s);
    }
    lesson.body = body;
    for (const rec of this.threads.values()) {
      if (rec.thread.anchor?.lesson !== id || !rec.range) continue;
      let range: [number, number] | null = rec.range;
      for (const s of splices) {
        if (!range) break;
        range = transformRange(range, s);
      }
      rec.range = range;
    }
    this.touch(id, 'edit lesson body', change, author);
  }

  private addPost(thread: DocId, author: PersonId, body: string, replyTo: ItemId | null): ItemId {
    const rec = this.mustThread(thread);
    if (!body.trim()) throw new BackendError('invalid_input', 'a post must not be empty');
    if (replyTo && !rec.thread.posts.some((p) => p.id === replyTo)) {
      throw new BackendError('not_found', `post ${replyTo} not found`);
    }
    const post: Post = {
      id: this.newId(7),
      author,
      body,
      created_at: this.now(),
      edited_at: null,
      reply_to: replyTo,
      reactions: {},
      deleted: false,
    };
    rec.thread.posts.push(post);
    return post.id;
  }

  private createNote(space: SpaceId, title: string, body: string, tags: string[], source: DocId | null, author: PersonId): DocId {
    const t = this.requireText('a note title', title);
    const { id, at } = this.create('note', space, 'create note', author);
    this.notes.set(id, { header: this.header(id), title: t, body, tags, source, created_by: author, created_at: at });
    this.emit(id, 'created');
    return id;
  }

  private createJournal(space: SpaceId, title: string, body: string, tags: string[], sharedFrom: DocId | null): DocId {
    const t = this.requireText('a journal entry title', title);
    const { id, at } = this.create('journal_entry', space, sharedFrom ? 'share journal entry' : 'create journal entry');
    this.journals.set(id, {
      header: this.header(id),
      title: t,
      body,
      tags,
      shared_from: sharedFrom,
      shared_as: null,
      created_by: this.me.person,
      created_at: at,
    });
    this.emit(id, 'created');
    return id;
  }

  private createCohort(name: string, purpose: string, creator: PersonId = this.me.person): SpaceId {
    const n = this.requireText('a cohort name', name);
    const space = this.newId(5);
    this.spaces.push({ id: space, name: n, personal: false });
    const { id, at } = this.create('charter', space, 'create charter', creator);
    this.charters.set(space, {
      header: this.header(id),
      name: n,
      purpose,
      norms: [],
      schedule: [],
      milestones: [],
      created_by: creator,
      created_at: at,
    });
    this.members.set(space, [{ person: creator, name: this.people.get(creator) ?? 'someone', role: 'facilitator', devices: 1 }]);
    this.emit(id, 'created');
    return space;
  }

  private charterDoc(space: SpaceId): DocId {
    return this.mustCharter(space).header.id;
  }

  private myProgress(space: SpaceId): Progress {
    let p = this.progress.get(space);
    if (!p) {
      const { id } = this.create('progress', space, 'create progress');
      p = { header: this.header(id), learner: this.me.person, lessons: {} };
      this.progress.set(space, p);
    }
    return p;
  }

  private lessonProgress(lesson: DocId): LessonProgress {
    const space = this.mustMeta(lesson).space;
    const p = this.progress.get(space);
    return p?.lessons[lesson] ?? { completed_at: null, checklist: {}, answers: {} };
  }

  private editProgress(lesson: DocId, edit: (lp: LessonProgress) => void): void {
    const space = this.mustMeta(lesson).space;
    const p = this.myProgress(space);
    const lp = p.lessons[lesson] ?? { completed_at: null, checklist: {}, answers: {} };
    edit(lp);
    p.lessons[lesson] = lp;
    this.touch(p.header.id, 'progress');
  }

  private search(query: string, space: SpaceId | null | undefined, kinds: DocKind[] | null | undefined, limit: number): SearchResult[] {
    const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
    if (terms.length === 0) return [];
    const candidates: Array<{ doc: DocId; part: string; text: string; title: string }> = [];
    for (const m of this.meta.values()) {
      if (m.deleted || (space && m.space !== space) || (kinds && !kinds.includes(m.kind))) continue;
      const title = this.summary(m.id).title;
      switch (m.kind) {
        case 'lesson':
          candidates.push({ doc: m.id, part: '', text: `${title}\n${this.mustLesson(m.id).body}`, title });
          break;
        case 'thread':
          for (const p of this.mustThread(m.id).thread.posts) {
            candidates.push({ doc: m.id, part: p.id, text: `${title}\n${p.body}`, title });
          }
          break;
        case 'note':
          candidates.push({ doc: m.id, part: '', text: `${title}\n${this.notes.get(m.id)?.body ?? ''}`, title });
          break;
        case 'journal_entry':
          candidates.push({ doc: m.id, part: '', text: `${title}\n${this.journals.get(m.id)?.body ?? ''}`, title });
          break;
        case 'course':
          candidates.push({ doc: m.id, part: '', text: `${title}\n${this.mustCourse(m.id).summary}`, title });
          break;
        case 'charter': {
          const c = this.charters.get(m.space);
          if (c) candidates.push({ doc: m.id, part: '', text: `${c.name}\n${c.purpose}\n${c.norms.join('\n')}`, title });
          break;
        }
        default:
      }
    }
    const results: SearchResult[] = [];
    const encoder = new TextEncoder();
    for (const c of candidates) {
      const words = [...c.text.matchAll(/[\p{L}\p{N}_']+/gu)];
      const matchesTerm = (w: string) => terms.some((t) => w.toLowerCase().startsWith(t));
      if (!terms.every((t) => words.some((w) => w[0].toLowerCase().startsWith(t)))) continue;
      const firstHit = words.findIndex((w) => matchesTerm(w[0]));
      const from = Math.max(0, firstHit - 4);
      const window = words.slice(from, from + 14);
      const startAt = window[0].index;
      const last = window[window.length - 1];
      const snippet = c.text.slice(startAt, last.index + last[0].length).replace(/\s+/g, ' ');
      const highlights: Array<[number, number]> = [];
      for (const w of snippet.matchAll(/[\p{L}\p{N}_']+/gu)) {
        if (!matchesTerm(w[0])) continue;
        const start = encoder.encode(snippet.slice(0, w.index)).length;
        highlights.push([start, start + encoder.encode(w[0]).length]);
      }
      const m = this.mustMeta(c.doc);
      results.push({ doc: c.doc, part: c.part, kind: m.kind, space: m.space, title: c.title, snippet, highlights });
      if (results.length >= Math.max(1, Math.min(limit, 500))) break;
    }
    return results;
  }

  private seed(role: Role): SpaceId {
    const ada = this.newId(1);
    const grace = this.newId(1);
    this.people.set(ada, 'Ada Lovelace');
    this.people.set(grace, 'Grace Hopper');
    const adaDevice = 'a'.repeat(8) + this.newId(3).slice(8) + this.newId(3);
    const graceDevice = 'b'.repeat(8) + this.newId(3).slice(8) + this.newId(3);
    this.devices.set(adaDevice, ada);
    this.devices.set(graceDevice, grace);
    const space = this.createCohort('Rust Study Circle', 'Learn Rust together, one chapter a week.');
    const charter = this.mustCharter(space);
    charter.norms.push('Ask early; a question helps the next person too.', 'Say what you tried before you ask.');
    charter.schedule.push({ id: this.newId(6), title: 'Weekly call', at: 1_700_600_000_000 });
    charter.milestones.push(
      { id: this.newId(6), title: 'Finish the basics', due: 1_701_000_000_000, done: true },
      { id: this.newId(6), title: 'Write a small CLI', due: null, done: false },
    );
    this.members.set(space, [
      { person: this.me.person, name: this.me.display_name, role, devices: 1 },
      { person: ada, name: 'Ada Lovelace', role: 'learner', devices: 2 },
      { person: grace, name: 'Grace Hopper', role: 'learner', devices: 1 },
    ]);
    const { id: course, at } = this.create('course', space, 'create course');
    const basics = this.newId(6);
    const traits = this.newId(6);
    this.courses.set(course, {
      header: this.header(course),
      title: 'Rust from scratch',
      summary: 'Ownership, borrowing and traits, with exercises.',
      modules: [
        { id: basics, title: 'Basics', lessons: [] },
        { id: traits, title: 'Traits', lessons: [] },
      ],
      created_by: this.me.person,
      created_at: at,
    });
    const addLesson = (module: ItemId, title: string, body: string) => {
      const { id, at: created } = this.create('lesson', space, 'create lesson');
      this.lessons.set(id, {
        header: this.header(id),
        course,
        title,
        body,
        checklist: [],
        questions: [],
        attachments: [],
        created_by: this.me.person,
        created_at: created,
      });
      this.mustCourse(course).modules.find((m) => m.id === module)?.lessons.push(id);
      return id;
    };
    const ownership = addLesson(
      basics,
      'Ownership',
      [
        '# Ownership',
        '',
        'Each value in Rust has a single owner. When the owner goes out of scope, the value is dropped.',
        '',
        'Moving the value transfers **ownership** to the new variable; the old one can no longer be used.',
        '',
        '- Values live on the stack or the heap',
        '- `String` owns its buffer',
        '',
      ].join('\n'),
    );
    const borrowing = addLesson(basics, 'Borrowing', '# Borrowing\n\nA reference lets you use a value without taking ownership.\n');
    const traitsLesson = addLesson(traits, 'Traits and generics', '# Traits\n\nA trait describes behaviour that types can share.\n');
    const l1 = this.mustLesson(ownership);
    l1.checklist.push({ id: this.newId(6), text: 'Read the chapter on ownership' }, { id: this.newId(6), text: 'Run the examples' });
    l1.questions.push(
      { id: this.newId(6), prompt: 'What happens when the owner goes out of scope?', answer: 'The value is dropped.', choices: [] },
      { id: this.newId(6), prompt: 'Which type owns its buffer?', answer: 'String', choices: ['&str', 'String', 'char'] },
    );
    const passage = 'Each value in Rust has a single owner';
    const pstart = l1.body.indexOf(passage);
    const question = this.seedThread(space, 'question', 'Is a moved value copied?', 'Does a move copy the bytes of the value?', ownership, [pstart, pstart + passage.length], ada);
    this.addPost(question, grace, 'No: a move copies the pointer, length and capacity, not the heap buffer.', null);
    const idea = this.seedThread(space, 'idea', 'Draw the ownership diagrams', 'Shall we draw stack/heap diagrams for each example? @Grace Hopper', borrowing, null, grace);
    const howto = this.seedThread(space, 'how_to', 'How to install the toolchain', 'Use rustup, then `rustup component add clippy`.', null, null, this.me.person);
    const journal = this.createJournal(this.me.personal_space, 'What I learned today', 'Moves are cheap; clones are explicit.', ['rust'], null);
    const note = this.createNote(space, 'Glossary', '**owner**: the variable responsible for dropping a value.', ['glossary'], null, this.me.person);
    this.peerList = [
      { device: adaDevice, person: ada, name: 'Ada Lovelace', connected: true, addr: '192.168.1.20:4820', last_seen: this.now() },
      { device: graceDevice, person: grace, name: 'Grace Hopper', connected: false, addr: null, last_seen: 1_699_999_000_000 },
    ];
    this.lastSync.set(space, this.now());
    Object.assign(this.ids, { space, course, basics, traits, ownership, borrowing, traitsLesson, question, idea, howto, journal, note, ada, grace });
    return space;
  }

  private seedThread(
    space: SpaceId,
    kind: ThreadKind,
    title: string,
    body: string,
    lesson: DocId | null,
    range: [number, number] | null,
    author: PersonId,
  ): DocId {
    const { id, at } = this.create('thread', space, 'create thread', author);
    const lessonBody = lesson ? this.mustLesson(lesson).body : '';
    const thread: Thread = {
      header: this.header(id),
      kind,
      title,
      lesson,
      anchor:
        lesson && range
          ? { lesson, start: `${range[0]}@cursor`, end: `${range[1] - 1}@cursor`, quote: lessonBody.slice(range[0], range[1]) }
          : null,
      posts: [],
      accepted: null,
      created_by: author,
      created_at: at,
    };
    this.threads.set(id, { thread, range });
    this.addPost(id, author, body, null);
    return id;
  }

  // ------------------------------------------------------------------ commands ---

  private readonly handlers: Handlers = {
    me: () => this.me,
    set_display_name: ({ name }) => {
      const n = name.trim();
      if (!n || [...n].length > 80) throw new BackendError('invalid_input', 'a display name must have 1 to 80 characters');
      this.me.display_name = n;
      this.people.set(this.me.person, n);
      for (const list of this.members.values()) for (const m of list) if (m.person === this.me.person) m.name = n;
      return null;
    },
    spaces: () => this.spaces.map((s) => ({ ...s, role: s.personal ? null : this.roleOf(s.id) })),
    personal_space: () => this.me.personal_space,
    courses: ({ space }) => this.list(['course'], space, null),
    threads: ({ space, lesson }) => this.list(['thread'], space, lesson),
    notes: ({ space }) => this.list(['note'], space, null),
    journal: () => this.list(['journal_entry'], this.me.personal_space, null),
    list: ({ kinds, space, parent }) => this.list(kinds, space, parent),
    changes: ({ space, kinds, since, limit }) =>
      this.list(kinds, space, null)
        .filter((d) => d.updated_at > since)
        .slice(0, Math.min(limit, 500)),
    summary: ({ id }) => this.summary(id),
    search: ({ query, space, kinds, limit }) => this.search(query, space, kinds, limit),
    stats: () => ({ docs: this.meta.size, chunks: 0, snapshot_bytes: 0, chunk_bytes: 0, file_bytes: 0 }),
    create_sample: () => {
      const space = this.createCohort('Getting started', 'Try Cohort.');
      const { id, at } = this.create('course', space, 'create course');
      this.courses.set(id, { header: this.header(id), title: 'Learning together with Cohort', summary: '', modules: [], created_by: this.me.person, created_at: at });
      this.emit(id, 'created');
      return id;
    },
    create_cohort: ({ name, purpose }) => this.createCohort(name, purpose),
    charter: ({ space }) => {
      const c = this.mustCharter(space);
      c.header = this.header(c.header.id);
      return c;
    },
    members: ({ space }) => {
      this.mustSpace(space);
      return (this.members.get(space) ?? []).map<MemberView>((m) => ({ ...m, you: m.person === this.me.person }));
    },
    set_purpose: ({ space, purpose }) => {
      this.requireRole(space, ['facilitator'], 'change the charter');
      this.mustCharter(space).purpose = purpose;
      this.touch(this.charterDoc(space), 'set purpose');
      return null;
    },
    add_norm: ({ space, norm }) => {
      this.requireRole(space, ['facilitator'], 'change the charter');
      this.mustCharter(space).norms.push(this.requireText('a norm', norm));
      this.touch(this.charterDoc(space), 'add norm');
      return null;
    },
    add_milestone: ({ space, title, due }) => {
      this.requireRole(space, ['facilitator'], 'change the charter');
      const id = this.newId(6);
      this.mustCharter(space).milestones.push({ id, title: this.requireText('a milestone', title), due: due ?? null, done: false });
      this.touch(this.charterDoc(space), 'add milestone');
      return id;
    },
    create_course: ({ space, title, summary }) => {
      this.requireRole(space, ['facilitator'], 'create a course');
      const t = this.requireText('a course title', title);
      const { id, at } = this.create('course', space, 'create course');
      this.courses.set(id, { header: this.header(id), title: t, summary, modules: [], created_by: this.me.person, created_at: at });
      this.emit(id, 'created');
      return id;
    },
    course: ({ id }) => {
      const course = this.mustCourse(id);
      const space = this.mustMeta(id).space;
      const p = this.progress.get(space);
      return {
        course,
        outline: course.modules.map((m) => ({
          id: m.id,
          title: m.title,
          lessons: m.lessons.map((l) => ({
            id: l,
            title: this.lessons.get(l)?.title ?? '',
            completed: Boolean(p?.lessons[l]?.completed_at),
          })),
        })),
      };
    },
    update_course: ({ id, title, summary }) => {
      const c = this.mustCourse(id);
      this.requireRole(c.header.space, ['facilitator'], 'edit a course');
      if (title != null) c.title = this.requireText('a course title', title);
      if (summary != null) c.summary = summary;
      this.touch(id, 'update course');
      return null;
    },
    add_module: ({ course, title }) => {
      const c = this.mustCourse(course);
      this.requireRole(c.header.space, ['facilitator'], 'edit a course');
      const id = this.newId(6);
      c.modules.push({ id, title: this.requireText('a module title', title), lessons: [] });
      this.touch(course, 'add module');
      return id;
    },
    add_lesson: ({ course, module, title, body }) => {
      const c = this.mustCourse(course);
      this.requireRole(c.header.space, ['facilitator'], 'add a lesson');
      const t = this.requireText('a lesson title', title);
      let target = module ? c.modules.find((m) => m.id === module) : c.modules[c.modules.length - 1];
      if (module && !target) throw new BackendError('not_found', `module ${module} not found`);
      if (!target) {
        target = { id: this.newId(6), title: 'Lessons', lessons: [] };
        c.modules.push(target);
      }
      const { id, at } = this.create('lesson', c.header.space, 'create lesson');
      this.lessons.set(id, { header: this.header(id), course, title: t, body, checklist: [], questions: [], attachments: [], created_by: this.me.person, created_at: at });
      target.lessons.push(id);
      this.emit(id, 'created');
      this.touch(course, 'place lesson');
      return id;
    },
    lesson: ({ id }) => ({
      lesson: this.mustLesson(id),
      threads: this.list(['thread'], null, id),
      progress: this.lessonProgress(id),
    }),
    splice_lesson: ({ id, splices }) => {
      this.requireRole(this.mustMeta(id).space, ['facilitator'], 'edit a lesson');
      this.spliceLesson(id, splices, 'updated');
      return null;
    },
    update_lesson: ({ id, title, body }) => {
      const l = this.mustLesson(id);
      this.requireRole(l.header.space, ['facilitator'], 'edit a lesson');
      if (title != null) l.title = this.requireText('a lesson title', title);
      if (body != null && body !== l.body) {
        // The smallest edit, like the core's update_text.
        let start = 0;
        while (start < l.body.length && start < body.length && l.body[start] === body[start]) start++;
        let endOld = l.body.length;
        let endNew = body.length;
        while (endOld > start && endNew > start && l.body[endOld - 1] === body[endNew - 1]) {
          endOld--;
          endNew--;
        }
        this.spliceLesson(id, [{ pos: start, delete: endOld - start, insert: body.slice(start, endNew) }], 'updated');
      } else {
        this.touch(id, 'update lesson');
      }
      return null;
    },
    add_checklist_item: ({ lesson, text }) => {
      const l = this.mustLesson(lesson);
      this.requireRole(l.header.space, ['facilitator'], 'edit a lesson');
      const id = this.newId(6);
      l.checklist.push({ id, text: this.requireText('a checklist item', text) });
      this.touch(lesson, 'add checklist item');
      return id;
    },
    add_question: ({ lesson, prompt, answer, choices }) => {
      const l = this.mustLesson(lesson);
      this.requireRole(l.header.space, ['facilitator'], 'edit a lesson');
      const id = this.newId(6);
      l.questions.push({ id, prompt: this.requireText('a question', prompt), answer, choices });
      this.touch(lesson, 'add question');
      return id;
    },
    new_thread: ({ space, kind, title, body, lesson, anchor }) => {
      this.mustSpace(space);
      const t = this.requireText('a thread title', title);
      if (!body.trim()) throw new BackendError('invalid_input', 'the opening post must not be empty');
      let range: [number, number] | null = null;
      if (anchor) {
        if (!lesson) throw new BackendError('invalid_input', 'an anchor needs a lesson');
        const len = this.mustLesson(lesson).body.length;
        if (anchor[0] >= anchor[1] || anchor[1] > len) {
          throw new BackendError('invalid_edit', `anchor range ${anchor[0]}..${anchor[1]} is empty or outside a body of ${len} UTF-16 code units`);
        }
        range = [anchor[0], anchor[1]];
      }
      const id = this.seedThread(space, kind, t, body, lesson ?? null, range, this.me.person);
      this.emit(id, 'created');
      return id;
    },
    thread: ({ id }) => {
      const rec = this.mustThread(id);
      const people: Record<PersonId, string> = {};
      for (const p of rec.thread.posts) people[p.author] = this.people.get(p.author) ?? p.author.slice(0, 8);
      people[rec.thread.created_by] = this.people.get(rec.thread.created_by) ?? rec.thread.created_by.slice(0, 8);
      return { thread: rec.thread, anchor: this.anchorState(rec), people };
    },
    reply: ({ thread, body, reply_to }) => {
      const id = this.addPost(thread, this.me.person, body, reply_to ?? null);
      this.touch(thread, 'reply');
      return id;
    },
    edit_post: ({ thread, post, body }) => {
      const p = this.mustThread(thread).thread.posts.find((x) => x.id === post);
      if (!p) throw new BackendError('not_found', `post ${post} not found`);
      if (p.author !== this.me.person) throw new BackendError('invalid_input', 'you can only edit your own posts');
      p.body = body;
      p.edited_at = this.now();
      this.touch(thread, 'edit post');
      return null;
    },
    react: ({ thread, post, reaction, on }) => {
      const r = reaction.trim();
      if (!r || r.length > REACTION_MAX || /\s/.test(r)) {
        throw new BackendError('invalid_edit', `a reaction is one emoji or word of at most ${REACTION_MAX} bytes`);
      }
      const p = this.mustThread(thread).thread.posts.find((x) => x.id === post);
      if (!p) throw new BackendError('not_found', `post ${post} not found`);
      const who = (p.reactions[r] ?? []).filter((x) => x !== this.me.person);
      if (on) who.push(this.me.person);
      if (who.length) p.reactions[r] = who;
      else delete p.reactions[r];
      this.touch(thread, 'react');
      return null;
    },
    accept: ({ thread, post }) => {
      const t = this.mustThread(thread).thread;
      if (t.kind !== 'question') {
        throw new BackendError('invalid_edit', `only a question can have an accepted answer; this thread is a ${t.kind}`);
      }
      if (post) {
        if (!t.posts.some((p) => p.id === post)) throw new BackendError('not_found', `post ${post} not found`);
        if (t.posts[0].id === post) throw new BackendError('invalid_edit', 'the question itself cannot be its accepted answer');
      }
      t.accepted = post ?? null;
      this.touch(thread, 'accept');
      return null;
    },
    new_note: ({ space, title, body, tags, source }) => this.createNote(space, title, body, tags, source ?? null, this.me.person),
    note: ({ id }) => {
      const n = this.notes.get(id);
      if (!n) throw new BackendError('not_found', `note ${id} not found`);
      n.header = this.header(id);
      return n;
    },
    splice_text_doc: ({ id, splices }) => {
      const kind = this.mustMeta(id).kind;
      if (kind === 'lesson') {
        this.spliceLesson(id, splices, 'updated');
        return null;
      }
      const doc = kind === 'note' ? this.notes.get(id) : kind === 'journal_entry' ? this.journals.get(id) : undefined;
      if (!doc) throw new BackendError('invalid_input', `${kind} has no text body`);
      let body = doc.body;
      for (const s of splices) {
        if (s.pos < 0 || s.delete < 0 || s.pos + s.delete > body.length) {
          throw new BackendError('invalid_edit', `splice ${s.pos}..${s.pos + s.delete} is outside the text`);
        }
        body = applySplice(body, s);
      }
      doc.body = body;
      this.touch(id, 'edit body');
      return null;
    },
    add_journal: ({ title, body, tags }) => this.createJournal(this.me.personal_space, title, body, tags, null),
    journal_entry: ({ id }) => {
      const j = this.journals.get(id);
      if (!j) throw new BackendError('not_found', `journal entry ${id} not found`);
      j.header = this.header(id);
      return j;
    },
    share_journal: ({ entry, space }) => {
      const j = this.journals.get(entry);
      if (!j) throw new BackendError('not_found', `journal entry ${entry} not found`);
      const target = this.mustSpace(space);
      if (target.personal) throw new BackendError('invalid_input', 'share a journal entry into a cohort, not your personal space');
      const copy = this.createJournal(space, j.title, j.body, j.tags, entry);
      j.shared_as = copy;
      this.touch(entry, 'record shared copy');
      return copy;
    },
    my_progress: ({ space }) => this.progress.get(space) ?? null,
    complete_lesson: ({ lesson, done }) => {
      this.mustLesson(lesson);
      this.editProgress(lesson, (lp) => {
        lp.completed_at = done ? this.now() : null;
      });
      return null;
    },
    tick: ({ lesson, item, done }) => {
      if (!this.mustLesson(lesson).checklist.some((c) => c.id === item)) throw new BackendError('not_found', `checklist item ${item} not found`);
      this.editProgress(lesson, (lp) => {
        lp.checklist[item] = done;
      });
      return null;
    },
    answer: ({ lesson, question, answer }) => {
      if (!this.mustLesson(lesson).questions.some((q) => q.id === question)) throw new BackendError('not_found', `question ${question} not found`);
      this.editProgress(lesson, (lp) => {
        lp.answers[question] = answer;
      });
      return null;
    },
    history: ({ id }) => {
      this.mustMeta(id);
      return this.histories.get(id) ?? [];
    },
    export_json: ({ id }) => this.summary(id) as unknown as JsonValue,
    delete: ({ id }) => {
      this.mustMeta(id).deleted = true;
      this.touch(id, 'delete', 'deleted');
      return null;
    },
    peers: () => this.peerList,
    sync_status: () =>
      this.spaces
        .filter((s) => !s.personal)
        .map<SpaceSyncView>((s) => ({
          space: s.id,
          name: s.name,
          peers: this.peerList.filter((p) => p.connected).length,
          pending: this.pending.get(s.id) ?? 0,
          last_sync: this.lastSync.get(s.id) ?? null,
          joining: null,
          bytes_sent: 0,
          bytes_received: 0,
          indexing: this.indexing.get(s.id) ?? 0,
        })),
    sync_now: () => {
      const at = this.now();
      for (const s of this.spaces) {
        if (s.personal) continue;
        this.pending.set(s.id, 0);
        this.lastSync.set(s.id, at);
      }
      setTimeout(() => {
        for (const s of this.spaces) if (!s.personal) this.syncs.emit({ kind: 'synced', space: s.id, device: null, message: null });
      }, 0);
      return null;
    },
    invite_create: ({ space, role, uses, expires_days }) => {
      const s = this.mustSpace(space);
      if (s.personal) throw new BackendError('invalid_input', 'your personal space cannot be shared');
      this.requireRole(space, ['facilitator'], 'invite people');
      const ticket = `cohort1${this.newId(0xfeed)}${space}`;
      const r = role ?? 'learner';
      const n = uses ?? 1;
      this.invites.set(ticket, { space, role: r, uses: n });
      return { ticket, space, role: r, uses: n, expires_at: this.now() + (expires_days ?? 7) * 86_400_000, addrs: [] };
    },
    remove_member: ({ space, person }) => {
      this.requireRole(space, ['facilitator'], 'remove members');
      const list = this.members.get(space) ?? [];
      if (!list.some((m) => m.person === person)) throw new BackendError('not_found', `no member ${person}`);
      this.members.set(
        space,
        list.filter((m) => m.person !== person),
      );
      return null;
    },
    attach: () => {
      throw new BackendError('invalid_input', 'attachments are not supported by the mock backend');
    },
    join: ({ ticket }) => {
      const t = ticket.trim();
      const invite = this.invites.get(t);
      if (invite) return { space: invite.space, role: invite.role, addrs: [] };
      if (!/^cohort1[0-9a-f]{32,}$/.test(t)) throw new BackendError('invalid_input', 'this is not a Cohort invite ticket');
      const space = this.createCohort('Joined cohort', '', this.newId(1));
      this.members.get(space)?.push({ person: this.me.person, name: this.me.display_name, role: 'learner', devices: 1 });
      setTimeout(() => this.syncs.emit({ kind: 'admitted', space, device: null, message: null }), 0);
      return { space, role: 'learner', addrs: [] };
    },
    device_link: ({ expires_minutes }) => {
      const ticket = `cohort1${this.newId(0xd1)}${this.me.personal_space}`;
      this.deviceLinks.add(ticket);
      return {
        ticket,
        space: this.me.personal_space,
        person: this.me.person,
        expires_at: this.now() + (expires_minutes ?? 10) * 60_000,
        addrs: [],
      };
    },
    device_add: ({ ticket, name }) => {
      const t = ticket.trim();
      if (this.invites.has(t)) throw new BackendError('invalid_input', 'this ticket invites to a cohort; use it with `cohort join`');
      if (!/^cohort1[0-9a-f]{32,}$/.test(t)) throw new BackendError('invalid_input', 'this is not a Cohort ticket');
      if (this.deviceLinks.has(t)) {
        throw new BackendError(
          'invalid_input',
          'this ticket was made by this very profile: run `cohort device add` on the new device, with its own data dir',
        );
      }
      const n = name?.trim();
      if (n && [...n].length > 60) throw new BackendError('invalid_input', 'a device name has at most 60 characters');
      this.requireFresh();
      if (n) this.myDevices[0].name = n;
      const space = this.newId(2);
      const person = this.newId(1);
      this.linking = { space, person, refused: null, hopeless: false };
      return { space, person, addrs: [] };
    },
    device_linking: () => this.linking,
    device_list: () =>
      [...this.myDevices].sort((a, b) => Number(b.this_device) - Number(a.this_device) || a.name.toLowerCase().localeCompare(b.name.toLowerCase())),
    device_remove: ({ device }) => {
      const found = this.myDevices.find((d) => d.device.startsWith(device) || d.name === device);
      if (!found) throw new BackendError('not_found', `no device ${device}`);
      if (found.this_device) throw new BackendError('invalid_input', 'this is the device you are using; remove it from another of your devices');
      this.myDevices = this.myDevices.filter((d) => d !== found);
      this.emitPersonal('membership');
      return null;
    },
  };
}

const SYNC_COMMANDS = new Set<Cmd>([
  'peers',
  'sync_status',
  'sync_now',
  'invite_create',
  'join',
  'device_link',
  'device_add',
  'device_linking',
  'device_list',
  'device_remove',
]);
