// UI benchmark of the web mode (not part of the test run): a `cohort serve --http` over a
// data dir of 10,000 documents, driven through Chromium (playwright-core), measuring in the
// page (performance.now):
//
// 1. Round trips of UI actions through the core: from the DOM event (a click) to the DOM
//    showing the result (MutationObserver), and to the next animation frame after that.
//    Actions: open a thread from the discussion list, post a reply, toggle a reaction, go
//    back to the list of 8,000 threads, mark a lesson complete / not complete.
// 2. Typing 300 characters into the lesson editor (real key events, one every 25 ms) while a
//    requestAnimationFrame loop records frame times: frames per second over 100 ms windows
//    (lowest window), dropped frames, longest frame, and keystroke-to-next-frame latency.
//
// Budgets (issue "desktop app"): any UI action's round trip through the core < 50 ms at the
// 95th percentile; typing in the lesson editor never drops below 60 frames/s.
//
// Usage (from the repository root):
//   cargo build --release -p cohort-cli && (cd ui && npm run build)
//   node tests/e2e/bench.mjs [--data-dir DIR] [--fresh] [--actions N] [--chars N] [--json FILE]
//                            [--think MS]  (pause between actions, default 500)
//                            [--only actions|typing] [--repeat N]  (typing runs, default 3)
//                            [--scale 0.05]   (a smaller data set, for a quick look)
// Env: COHORT_BIN (default: the release binary, else the debug one), COHORT_UI (ui/dist),
// CHROMIUM (/usr/bin/chromium). The data set is generated once through the HTTP API (the
// same command table as the CLI and the desktop shell: `cohort` has no generate command)
// into DIR (default $TMPDIR/cohort-ui-bench) and reused by later runs; --fresh regenerates.

import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const exec = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const target = process.env.CARGO_TARGET_DIR ?? join(root, 'target');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = process.argv[i + 1];
  return v === undefined || v.startsWith('--') ? true : v;
}

const BIN = process.env.COHORT_BIN ?? [join(target, 'release/cohort'), join(target, 'debug/cohort')].find((p) => existsSync(p));
const UI = process.env.COHORT_UI ?? join(root, 'ui/dist');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const DIR = resolve(String(arg('data-dir', join(tmpdir(), 'cohort-ui-bench'))));
const FRESH = arg('fresh', false) === true;
const ACTION_ROUNDS = Number(arg('actions', 200)) / 4;
const CHARS = Number(arg('chars', 300));
const JSON_OUT = arg('json', null);
const ONLY = String(arg('only', 'actions,typing')).split(',');
// Time between actions, as a person takes (the core serves one request at a time, so actions
// fired back to back would also measure the background reloads of the previous one).
const THINK = Number(arg('think', 500));
const REPEAT = Number(arg('repeat', 3));
const MARKER = join(DIR, 'ui-bench.json');

// The foundation data set's shape (crates/testkit Spec::foundation): 100 courses x 10
// lessons of ~3 KB Markdown, 8,000 question threads, 450 notes, 450 journal entries.
// --scale shrinks it for a quick look (the data dir then holds fewer documents).
const SCALE = Number(arg('scale', 1));
const scaled = (n) => Math.max(1, Math.round(n * SCALE));
const SPEC = { courses: scaled(100), lessonsPerCourse: 10, lessonBytes: 3000, threads: scaled(8000), repliesMax: 4, notes: scaled(450), journal: scaled(450) };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ data set ---

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'learning cohort lesson practice question answer example memory function variable photosynthesis energy history river ' +
  'market garden clinic patient school teacher reading writing method evidence theory model data network offline sync review ' +
  'habit focus summary chapter exercise project feedback mentor peer goal schedule milestone journal note draft idea problem ' +
  'solution because therefore however carefully quickly together slowly every the a of to and in is that with for on we you'
).split(' ');

function sentence(r) {
  const n = 6 + Math.floor(r() * 10);
  const w = Array.from({ length: n }, () => WORDS[Math.floor(r() * WORDS.length)]);
  w[0] = w[0][0].toUpperCase() + w[0].slice(1);
  return `${w.join(' ')}.`;
}

function markdown(r, bytes, title) {
  let out = `# ${title}\n\n`;
  let part = 1;
  while (out.length < bytes) {
    out += `## Part ${part++}: ${sentence(r).slice(0, -1)}\n\n`;
    for (let p = 0; p < 2 + Math.floor(r() * 2); p++) out += `${Array.from({ length: 3 }, () => sentence(r)).join(' ')}\n\n`;
    if (r() < 0.5) out += `- ${sentence(r)}\n- ${sentence(r)}\n- ${sentence(r)}\n\n`;
    if (r() < 0.3) out += '```\nlet total = items.iter().map(|x| x.value).sum();\n```\n\n';
  }
  return out;
}

/** One `cohort serve --http` on the data dir. */
class Server {
  constructor(dir) {
    this.dir = dir;
    this.proc = null;
    this.log = '';
  }

  async start() {
    this.proc = spawn(BIN, ['--data-dir', this.dir, 'serve', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--http', '127.0.0.1:0', '--ui', UI], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout.on('data', (d) => (this.log += d));
    this.proc.stderr.on('data', (d) => (this.log += d));
    const end = Date.now() + 60_000;
    for (;;) {
      if (this.proc.exitCode !== null) throw new Error(`cohort serve exited:\n${this.log}`);
      try {
        const j = JSON.parse(await readFile(join(this.dir, 'serve.json'), 'utf8'));
        if (j.pid === this.proc.pid) {
          this.url = j.url;
          this.token = j.token;
          return;
        }
      } catch {
        // not written yet
      }
      if (Date.now() > end) throw new Error(`cohort serve did not start:\n${this.log}`);
      await sleep(100);
    }
  }

  async api(cmd, args = {}) {
    const res = await fetch(`${this.url}/api/call/${cmd}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${this.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(args),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${cmd} -> HTTP ${res.status}: ${text}`);
    return text ? JSON.parse(text) : null;
  }

  async stop() {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(t);
  }
}

/** Runs `jobs` (functions returning promises) with at most `n` in flight. */
async function pool(jobs, n, progress) {
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      await job();
      done++;
      if (progress && done % 1000 === 0) progress(done, jobs.length);
    }
  };
  await Promise.all(Array.from({ length: n }, worker));
}

async function generate(server) {
  const r = rng(42);
  const t0 = Date.now();
  const log = (what) => console.error(`  ${what} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  const space = await server.api('create_cohort', { name: 'Bench cohort', purpose: 'A generated cohort for the UI benchmark.' });
  const lessons = [];
  for (let c = 0; c < SPEC.courses; c++) {
    const course = await server.api('create_course', { space, title: `Course ${c + 1}: ${sentence(r).slice(0, 40)}`, summary: sentence(r) });
    const module = await server.api('add_module', { course, title: 'Module 1' });
    const jobs = Array.from({ length: SPEC.lessonsPerCourse }, (_, l) => {
      const title = `Lesson ${c + 1}.${l + 1}`;
      const body = markdown(r, SPEC.lessonBytes, title);
      return async () => lessons.push(await server.api('add_lesson', { course, module, title, body }));
    });
    await pool(jobs, 4);
  }
  log(`${SPEC.courses} courses, ${lessons.length} lessons`);
  const threads = [];
  let posts = 0;
  const threadJobs = Array.from({ length: SPEC.threads }, (_, i) => {
    const title = `Question ${i + 1}: ${sentence(r).slice(0, 50)}`;
    const body = `${sentence(r)} ${sentence(r)}`;
    const replies = Array.from({ length: Math.floor(r() * (SPEC.repliesMax + 1)) }, () => `${sentence(r)} ${sentence(r)}`);
    return async () => {
      const id = await server.api('new_thread', { space, kind: 'question', title, body, lesson: null, anchor: null });
      threads.push(id);
      posts++;
      for (const reply of replies) {
        await server.api('reply', { thread: id, body: reply, reply_to: null });
        posts++;
      }
    };
  });
  await pool(threadJobs, 4, (d, n) => log(`${d} / ${n} threads`));
  log(`${threads.length} threads, ${posts} posts`);
  await pool(
    Array.from({ length: SPEC.notes }, (_, i) => async () => {
      await server.api('new_note', { space, title: `Note ${i + 1}: ${sentence(r).slice(0, 40)}`, body: markdown(r, 600, `Note ${i + 1}`), tags: ['bench'], source: null });
    }),
    4,
  );
  await pool(
    Array.from({ length: SPEC.journal }, (_, i) => async () => {
      await server.api('add_journal', { title: `Day ${i + 1}`, body: markdown(r, 600, `Day ${i + 1}`), tags: [] });
    }),
    4,
  );
  // One long lesson (~20 KB) for the heavier typing run.
  const bigCourse = await server.api('create_course', { space, title: 'Long lessons', summary: '' });
  const bigModule = await server.api('add_module', { course: bigCourse, title: 'Module 1' });
  const bigLesson = await server.api('add_lesson', { course: bigCourse, module: bigModule, title: 'A long lesson', body: markdown(r, 20_000, 'A long lesson') });
  const stats = await server.api('stats');
  log(`${stats.docs} documents stored`);
  return { space, lesson: lessons[0], bigLesson, docs: stats.docs, posts, seconds: Math.round((Date.now() - t0) / 1000) };
}

// ---------------------------------------------------------------- in the page ---

// Installed into the page: measures one action from its DOM event to the DOM showing the
// result (`dom`) and to the next animation frame after that (`frame`).
const HELPERS = () => {
  performance.setResourceTimingBufferSize(100_000);
  /** Milliseconds of [t0, t1] covered by API calls (fetches of /api/call/...). */
  const apiTime = (t0, t1) => {
    const spans = performance
      .getEntriesByType('resource')
      .filter((e) => e.name.includes('/api/call/') && e.startTime >= t0 && e.startTime <= t1)
      .map((e) => [e.startTime, Math.min(e.responseEnd, t1)])
      .sort((a, b) => a[0] - b[0]);
    let covered = 0;
    let end = t0;
    for (const [a, b] of spans) {
      const from = Math.max(a, end);
      if (b > from) covered += b - from;
      end = Math.max(end, b);
    }
    return covered;
  };
  // `later` (optional): a second condition met after `done` (e.g. the rest of a long thread
  // rendered after the first paint); its time is reported as `later`.
  window.__measure = (start, done, timeout = 15_000, later = null) =>
    new Promise((resolveM, rejectM) => {
      let settled = false;
      let t0 = 0;
      let result = null;
      let laterSeen = false;
      const resolveLater = () => {
        if (laterSeen || !result) return;
        let ok = false;
        try {
          ok = later();
        } catch {
          ok = false;
        }
        if (!ok) return;
        laterSeen = true;
        observer.disconnect();
        clearTimeout(timer);
        resolveM({ ...result, later: performance.now() - t0 });
      };
      const finish = () => {
        const t1 = performance.now();
        settled = true;
        if (!later) {
          observer.disconnect();
          clearTimeout(timer);
        }
        requestAnimationFrame(() => {
          const api = apiTime(t0, t1);
          performance.clearResourceTimings();
          result = { dom: t1 - t0, frame: performance.now() - t0, api };
          if (later) resolveLater();
          else resolveM(result);
        });
      };
      const check = () => {
        if (settled) {
          if (later) resolveLater();
          return;
        }
        let ok = false;
        try {
          ok = done();
        } catch {
          ok = false;
        }
        if (ok) finish();
      };
      const observer = new MutationObserver(check);
      observer.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
      const timer = setTimeout(() => {
        settled = true;
        observer.disconnect();
        rejectM(new Error('the DOM did not show the result in time'));
      }, timeout);
      performance.clearResourceTimings();
      t0 = performance.now();
      start();
      check();
    });
  window.__waitFor = (fn, timeout = 15_000) =>
    new Promise((resolveW, rejectW) => {
      const end = performance.now() + timeout;
      const poll = () => {
        let ok = false;
        try {
          ok = fn();
        } catch {
          ok = false;
        }
        if (ok) return resolveW(true);
        if (performance.now() > end) return rejectW(new Error('timed out'));
        requestAnimationFrame(poll);
      };
      poll();
    });
};

async function openApp(page, server) {
  await page.goto(`${server.url}/?token=${server.token}`);
  await page.getByTestId('sidebar').waitFor({ timeout: 60_000 });
  await page.evaluate(HELPERS);
}

async function go(page, hash, testid) {
  await page.evaluate((h) => (window.location.hash = h), hash);
  await page.getByTestId(testid).first().waitFor({ timeout: 60_000 });
  await page.evaluate(HELPERS); // idempotent; the page is never reloaded, but be safe
}

// Each returns { dom, frame } in ms.
const actions = {
  /**
   * Click the i-th thread row of the discussion list; the thread page shows its title and its
   * posts: all of them, or as many as the window can show of a longer thread (the page's
   * `data-first`: the window's height over 80 px, the shortest post; 12 in the 900 px
   * window); the page renders the rest after its first paint, measured as `later`: all posts
   * in the DOM.
   */
  openThread: (page, i) =>
    page.evaluate(async (index) => {
      const rows = [...document.querySelectorAll('[data-testid="thread-list"] a.thread-row')];
      const a = rows[index % rows.length];
      const title = a.querySelector('.t-title').textContent.trim();
      const posts = Number(/(\d+) posts?/.exec(a.textContent)?.[1] ?? '1');
      const shown = () => document.querySelector('[data-testid="thread-detail"] h1')?.textContent.trim() === title;
      const count = () => document.querySelectorAll('[data-testid="post"]').length;
      const r = await window.__measure(
        () => a.click(),
        () => {
          const first = Number(document.querySelector('[data-testid="thread-detail"] ol.posts')?.getAttribute('data-first') ?? posts);
          return shown() && count() >= Math.min(posts, first);
        },
        15_000,
        () => shown() && count() >= posts,
      );
      return { ...r, posts };
    }, i),
  /** Post a reply (typed beforehand, not measured); the new post appears. */
  reply: (page, i) =>
    page.evaluate(async (n) => {
      const box = document.querySelector('[data-testid="reply-input"]');
      const text = `Benchmark reply ${n}: I tried it and it worked.`;
      const setter = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value').set;
      setter.call(box, text);
      box.dispatchEvent(new Event('input', { bubbles: true }));
      await new Promise((r) => requestAnimationFrame(() => r()));
      const before = document.querySelectorAll('[data-testid="post"]').length;
      const send = document.querySelector('[data-testid="send-reply"]');
      return window.__measure(
        () => send.click(),
        () => {
          const posts = document.querySelectorAll('[data-testid="post"]');
          return posts.length === before + 1 && posts[posts.length - 1].textContent.includes(text);
        },
      );
    }, i),
  /**
   * Toggle your 👍 on the first post: with its button when the post has one, else with the
   * reaction menu's 👍 (opening the menu is not measured, like typing a reply); done when
   * your 👍 flips (its button pressed, or gone).
   */
  react: (page) =>
    page.evaluate(async () => {
      const post = document.querySelector('[data-testid="post"]');
      const thumbs = () => post.querySelector('button.reaction[aria-label^="React 👍"]');
      const mine = () => thumbs()?.getAttribute('aria-pressed') === 'true';
      const was = mine();
      let target = thumbs();
      if (!target) {
        post.querySelector('button.reaction.add').click();
        await new Promise((r) => requestAnimationFrame(() => r()));
        target = document.querySelector('[role="menuitemcheckbox"][aria-label="React 👍"]');
      }
      return window.__measure(
        () => target.click(),
        () => mine() !== was,
      );
    }),
  /** Back to the list of all threads (sidebar link); the list shows its rows. */
  openList: (page) =>
    page.evaluate(async () => {
      const link = [...document.querySelectorAll('[data-testid="sidebar"] a')].find((a) => a.textContent.trim() === 'Discussions');
      return window.__measure(
        () => link.click(),
        () => document.querySelectorAll('[data-testid="thread-list"] a.thread-row').length > 5,
      );
    }),
  /** Mark the open lesson complete, or not complete; the other state shows. */
  toggleComplete: (page) =>
    page.evaluate(async () => {
      const mark = document.querySelector('[data-testid="mark-complete"]');
      if (mark) {
        return window.__measure(
          () => mark.click(),
          () => !!document.querySelector('.complete .badge.success'),
        );
      }
      const unmark = [...document.querySelectorAll('.complete button')].find((b) => b.textContent.includes('not complete'));
      return window.__measure(
        () => unmark.click(),
        () => !!document.querySelector('[data-testid="mark-complete"]'),
      );
    }),
};

function percentile(values, p) {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)];
}

function summarize(samples) {
  const dom = samples.map((s) => s.dom);
  const frame = samples.map((s) => s.frame);
  const api = samples.map((s) => s.api);
  return {
    n: samples.length,
    apiP50: percentile(api, 50),
    apiP95: percentile(api, 95),
    uiP50: percentile(samples.map((s) => s.dom - s.api), 50),
    p50: percentile(dom, 50),
    p95: percentile(dom, 95),
    max: Math.max(...dom),
    frameP50: percentile(frame, 50),
    frameP95: percentile(frame, 95),
    later: samples.every((s) => s.later !== undefined)
      ? {
          p50: percentile(samples.map((s) => s.later), 50),
          p95: percentile(samples.map((s) => s.later), 95),
          postsMin: Math.min(...samples.map((s) => s.posts)),
          postsMax: Math.max(...samples.map((s) => s.posts)),
        }
      : null,
  };
}

async function measureActions(page, server, info) {
  const samples = { openThread: [], reply: [], react: [], openList: [], toggleComplete: [] };
  // The first open of the list in a freshly loaded app (nothing cached: the whole list comes
  // from the core), reported on its own.
  await go(page, `#/space/${info.space}`, 'cohort-home');
  await sleep(THINK);
  const firstOpenList = await actions.openList(page);
  // Warm-up (not counted): the first open of each view loads its code and caches.
  for (let i = 0; i < 3; i++) {
    await actions.openThread(page, 10 + i);
    await actions.reply(page, -1 - i);
    await actions.react(page);
    await actions.openList(page);
  }
  const paced = async (run) => {
    await sleep(THINK);
    return run();
  };
  for (let i = 0; i < ACTION_ROUNDS; i++) {
    samples.openThread.push(await paced(() => actions.openThread(page, i)));
    samples.reply.push(await paced(() => actions.reply(page, i)));
    samples.react.push(await paced(() => actions.react(page)));
    samples.openList.push(await paced(() => actions.openList(page)));
  }
  await go(page, `#/lesson/${info.lesson}`, 'lesson-body');
  await actions.toggleComplete(page);
  await actions.toggleComplete(page);
  for (let i = 0; i < ACTION_ROUNDS; i++) samples.toggleComplete.push(await paced(() => actions.toggleComplete(page)));
  const all = Object.values(samples).flat();
  return { all: summarize(all), firstOpenList, byAction: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)])), samples };
}

const TYPED = 'The quick brown fox jumps over the lazy dog while the cohort reads along. ';

/** Starts recording frames, keystroke-to-frame times and long tasks in the page. */
function startRecording(page) {
  return page.evaluate(() => {
    const frames = [];
    const keys = [];
    let on = true;
    const tick = (t) => {
      frames.push(t);
      if (on) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    const onKey = (e) => {
      const at = e.timeStamp;
      requestAnimationFrame(() => keys.push(performance.now() - at));
    };
    document.addEventListener('keydown', onKey, true);
    let longTasks = [];
    let po = null;
    try {
      po = new PerformanceObserver((list) => (longTasks = longTasks.concat(list.getEntries().map((e) => e.duration))));
      po.observe({ type: 'longtask', buffered: false });
    } catch {
      po = null;
    }
    window.__stopRecording = () => {
      on = false;
      document.removeEventListener('keydown', onKey, true);
      po?.disconnect();
      return { frames, keys, longTasks };
    };
  });
}

/** Types `chars` characters (one key event every 25 ms) while recording; returns the stats. */
async function typeAndRecord(page, chars) {
  await page.evaluate(() => {
    performance.setResourceTimingBufferSize(100_000);
    performance.clearResourceTimings();
  });
  await startRecording(page);
  await sleep(300);
  const typed = TYPED.repeat(Math.ceil(chars / TYPED.length)).slice(0, chars);
  const t0 = Date.now();
  await page.keyboard.type(typed, { delay: 25 });
  const typingMs = Date.now() - t0;
  await sleep(300);
  const rec = await page.evaluate(() => {
    const out = window.__stopRecording();
    // The API calls made meanwhile: [name, start, end] relative to the first frame.
    out.calls = performance
      .getEntriesByType('resource')
      .filter((e) => e.name.includes('/api/call/') && e.startTime >= out.frames[0])
      .map((e) => [e.name.split('/').pop(), Math.round(e.startTime - out.frames[0]), Math.round(e.responseEnd - out.frames[0])]);
    return out;
  });
  return {
    ...frameStats(rec.frames),
    typed: typed.length,
    typingMs,
    keyToFrame: { p50: percentile(rec.keys, 50), p95: percentile(rec.keys, 95), max: Math.max(...rec.keys) },
    longTasks: rec.longTasks.length,
    longestTask: rec.longTasks.length ? Math.max(...rec.longTasks) : 0,
    calls: rec.calls,
  };
}

async function measureTyping(page, lesson, chars) {
  await go(page, `#/lesson/${lesson}/edit`, 'lesson-body-editor');
  await page.locator('[data-testid="lesson-body-editor"][data-ready="true"]').waitFor({ timeout: 60_000 });
  await page.locator('[data-testid="lesson-body-editor"] .cm-content').click();
  await page.keyboard.press('Control+End');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Enter');
  const stats = await typeAndRecord(page, chars);
  await page.getByTestId('save-status').getByText('All changes saved').waitFor({ timeout: 30_000 });
  return stats;
}

/**
 * The same typing into a bare <textarea> on an empty page of the same browser: what this
 * machine and browser deliver with no app at all (the ceiling for the editor's numbers).
 */
async function measureControlTyping(ctx, chars) {
  const page = await ctx.newPage();
  try {
    await page.setContent('<!doctype html><title>control</title><textarea aria-label="control" rows="20" cols="80"></textarea>');
    await page.locator('textarea').click();
    return await typeAndRecord(page, chars);
  } finally {
    await page.close();
  }
}

/** Frame statistics: fps per 100 ms window, dropped frames against the median interval. */
function frameStats(frames) {
  const intervals = frames.slice(1).map((t, i) => t - frames[i]);
  const vsync = percentile(intervals, 50);
  let dropped = 0;
  for (const d of intervals) if (d > vsync * 1.5) dropped += Math.round(d / vsync) - 1;
  // Windows of 100 ms from the first frame; a window's rate is the frames it holds over the
  // time they span (interval ends inside the window), so it does not depend on alignment.
  const windows = [];
  const start = frames[0];
  const end = frames[frames.length - 1];
  for (let w = start; w + 100 <= end; w += 100) {
    const inside = intervals.filter((_, i) => frames[i + 1] > w && frames[i + 1] <= w + 100);
    const span = inside.reduce((a, b) => a + b, 0);
    if (inside.length) windows.push((inside.length / span) * 1000);
  }
  return {
    frames: frames.length,
    vsyncMs: vsync,
    minFps: Math.min(...windows),
    meanFps: ((frames.length - 1) / (end - start)) * 1000,
    dropped,
    longestFrameMs: Math.max(...intervals),
    windows: windows.length,
    // Frames longer than 1.5 vsync: [ms after the first frame, length in ms].
    slowFrames: intervals.map((d, i) => [Math.round(frames[i] - start), Math.round(d)]).filter(([, d]) => d > vsync * 1.5),
  };
}

// --------------------------------------------------------------------- main ---

async function main() {
  if (!BIN || !existsSync(BIN)) throw new Error('no cohort binary: cargo build --release -p cohort-cli (or set COHORT_BIN)');
  if (!existsSync(join(UI, 'index.html'))) throw new Error(`no built UI in ${UI}: cd ui && npm run build`);
  console.error(`cohort: ${BIN}\ndata dir: ${DIR}`);
  let info = null;
  if (!FRESH && existsSync(MARKER)) info = JSON.parse(await readFile(MARKER, 'utf8'));
  if (!info) {
    await rm(DIR, { recursive: true, force: true });
    await mkdir(DIR, { recursive: true });
    await exec(BIN, ['--data-dir', DIR, 'init', '--name', 'Bench Facilitator']);
  }
  const server = new Server(DIR);
  let browser;
  try {
    await server.start();
    if (!info) {
      console.error('generating the data set through the API (once; reused by later runs)...');
      info = await generate(server);
      await writeFile(MARKER, JSON.stringify(info, null, 2));
    }
    const stats = await server.api('stats');
    console.error(`${stats.docs} documents, ${(stats.file_bytes / 1e6).toFixed(1)} MB`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await openApp(page, server);

    // Idle frame rate: what the browser delivers with nothing happening (the ceiling).
    const idle = await page.evaluate(
      () =>
        new Promise((r) => {
          const f = [];
          const tick = (t) => {
            f.push(t);
            if (f.length < 120) requestAnimationFrame(tick);
            else r(f);
          };
          requestAnimationFrame(tick);
        }),
    );
    const idleStats = frameStats(idle);
    console.error(`idle: ${idleStats.meanFps.toFixed(1)} frames/s`);

    let rt = null;
    let typing = null;
    let typingBig = null;
    let control = null;
    if (ONLY.includes('actions')) {
      console.error('measuring UI actions...');
      rt = await measureActions(page, server, info);
    }
    if (ONLY.includes('typing')) {
      console.error('measuring typing...');
      // Each typing run is repeated (frame timing is sensitive to anything else the machine
      // does); the run with the median lowest window is reported, all runs are in --json.
      const runs = { control: [], typing: [], typingBig: [] };
      for (let i = 0; i < REPEAT; i++) {
        runs.control.push(await measureControlTyping(ctx, CHARS));
        runs.typing.push(await measureTyping(page, info.lesson, CHARS));
        runs.typingBig.push(await measureTyping(page, info.bigLesson, CHARS));
      }
      const median = (list) => ({ ...[...list].sort((a, b) => a.minFps - b.minFps)[Math.floor(list.length / 2)], runs: list.length, minFpsOfRuns: list.map((t) => t.minFps), droppedOfRuns: list.map((t) => t.dropped) });
      control = median(runs.control);
      typing = median(runs.typing);
      typingBig = median(runs.typingBig);
      const body = (await server.api('lesson', { id: info.lesson })).lesson.body;
      if (!body.includes('The quick brown fox jumps over the lazy dog')) throw new Error('the typed text did not reach the core');
    }

    const result = { date: new Date().toISOString().slice(0, 10), binary: BIN, data: { docs: stats.docs, posts: info.posts }, idle: idleStats, think: THINK, roundTrip: rt, typing, typingBig, control, pageErrors: errors };
    if (JSON_OUT) await writeFile(String(JSON_OUT), JSON.stringify(result, null, 2));
    printTable(result);
  } finally {
    await browser?.close().catch(() => {});
    await server.stop();
  }
}

function printTable(r) {
  const f = (x, d = 1) => x.toFixed(d);
  const ratio = (m, b) => `${f(m / b, 2)} (${m / b <= 1 ? 'meets' : 'MISSES'})`;
  const lines = [];
  lines.push('| benchmark | budget | measured | ratio |', '|---|---|---|---|');
  if (r.roundTrip) {
    const a = r.roundTrip.all;
    lines.push(`| UI action round trip, event to DOM updated, all ${a.n} actions (p50; p95) | p95 < 50 ms | ${f(a.p50)} ms; ${f(a.p95)} ms | ${ratio(a.p95, 50)} |`);
    const names = {
      openThread: 'open a thread from the list',
      reply: 'post a reply',
      react: 'toggle a reaction',
      openList: 'open the list of 8,000 threads again',
      toggleComplete: 'mark a lesson complete / not complete',
    };
    for (const [k, s] of Object.entries(r.roundTrip.byAction)) {
      lines.push(`| ... ${names[k]} (${s.n}; p50; p95) [median in API calls / in the page] | p95 < 50 ms | ${f(s.p50)} ms; ${f(s.p95)} ms [${f(s.apiP50)} / ${f(s.uiP50)}] | ${ratio(s.p95, 50)} |`);
      if (s.later) {
        lines.push(`| ... ... every post of the opened thread rendered (p50; p95) [posts per thread: min-max] | | ${f(s.later.p50)} ms; ${f(s.later.p95)} ms [${s.later.postsMin}-${s.later.postsMax}] | |`);
      }
    }
    lines.push(`| ... all actions, to the next frame after the DOM update (p50; p95) | | ${f(a.frameP50)} ms; ${f(a.frameP95)} ms | |`);
    const first = r.roundTrip.firstOpenList;
    lines.push(`| first open of the list of 8,000 threads after the app starts (1 sample) [in API calls / in the page] | | ${f(first.dom)} ms [${f(first.api)} / ${f(first.dom - first.api)}] | |`);
  }
  const display = 1000 / r.idle.vsyncMs;
  const typingRows = [
    ['in a bare textarea (control: the machine and browser alone)', r.control],
    ['in the lesson editor, ~3 KB lesson', r.typing],
    ['in the lesson editor, ~20 KB lesson', r.typingBig],
  ];
  for (const [label, t] of typingRows) {
    if (!t) continue;
    // The median run of the repeats.
    // The display's own rate (headless Chromium: 1000 / 16.7 ms = 59.9 Hz) is what "60
    // frames/s" can mean here: the ratio is that rate over the lowest window's.
    lines.push(
      `| typing ${t.typed} chars ${label}: lowest 100 ms window (mean; dropped frames; longest frame; long tasks) | >= 60 frames/s (display ${f(display)} Hz) | ${f(t.minFps)} frames/s (${f(t.meanFps)}; ${t.dropped}; ${f(t.longestFrameMs)} ms; ${t.longTasks}) | ${ratio(display * 0.995, t.minFps)} |`,
    );
    lines.push(`| ... keystroke to next frame (p50; p95; max) | | ${f(t.keyToFrame.p50)} ms; ${f(t.keyToFrame.p95)} ms; ${f(t.keyToFrame.max)} ms | |`);
    if (t.runs > 1) lines.push(`| ... lowest window and dropped frames of each of the ${t.runs} runs | | ${t.minFpsOfRuns.map((x) => f(x)).join(', ')} frames/s; ${t.droppedOfRuns.join(', ')} dropped | |`);
  }
  console.log(`\nData: ${r.data.docs} documents, ${r.data.posts} posts. Actions ${r.think} ms apart. Idle frame rate ${f(r.idle.meanFps)} frames/s (vsync ${f(r.idle.vsyncMs, 2)} ms).\n`);
  console.log(lines.join('\n'));
  if (r.pageErrors.length) console.log(`\npage errors: ${r.pageErrors.join('; ')}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
