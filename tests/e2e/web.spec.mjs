// Browser end-to-end test of Cohort's web mode: two real `cohort serve --http` peers on
// loopback, each driven through its own web UI in Chromium (playwright-core), plus the
// CLI and the HTTP API where the scenario needs a second actor or a check behind the UI.
//
// Run with tests/e2e/run.sh (or `node --test web.spec.mjs` here once the binary, ui/dist
// and Chromium exist). Environment: COHORT_BIN, COHORT_UI, CHROMIUM, E2E_KEEP=1 (keep the
// temporary data dirs), E2E_SHOTS (screenshot dir, default docs/screenshots).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readFile, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const exec = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const BIN = process.env.COHORT_BIN ?? join(root, 'target/debug/cohort');
const UI = process.env.COHORT_UI ?? join(root, 'ui/dist');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = process.env.E2E_SHOTS ?? join(root, 'docs/screenshots');
const AXE_SOURCE = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const SPACE = 'Night school';
const PASSAGE = 'absorbs red and blue light';
const BODY = [
  '# Photosynthesis',
  '',
  'Plants turn light into sugar.',
  '',
  `Chlorophyll ${PASSAGE} while it reflects green, which is why leaves look green.`,
  '',
  'Next time: roots.',
  '',
].join('\n');
const INSERTED = 'Water and carbon dioxide go in; oxygen comes out. ';
const SECRET = 'quokkamarmalade';
const SYNC_TIMEOUT = 45_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, timeout = SYNC_TIMEOUT, every = 300) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await sleep(every);
  }
}

/** One `cohort` data dir with its `serve` process. */
class Peer {
  constructor(name, dir) {
    this.name = name;
    this.dir = dir;
    this.proc = null;
    this.log = '';
    this.url = null;
    this.token = null;
  }

  async cli(...args) {
    const { stdout } = await exec(BIN, ['--data-dir', this.dir, '--json', ...args], { timeout: 90_000 }).catch((e) => {
      throw new Error(`cohort ${args.join(' ')} (${this.name}) failed: ${e.stderr || e.message}`);
    });
    return stdout.trim() ? JSON.parse(stdout) : null;
  }

  async serve() {
    this.proc = spawn(
      BIN,
      ['--data-dir', this.dir, 'serve', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--http', '127.0.0.1:0', '--ui', UI],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.proc.stdout.on('data', (d) => (this.log += d));
    this.proc.stderr.on('data', (d) => (this.log += d));
    const exited = new Promise((_, rej) => this.proc.once('exit', (c) => rej(new Error(`${this.name}'s serve exited (${c}):\n${this.log}`))));
    exited.catch(() => {});
    const info = await Promise.race([
      exited,
      until(`${this.name}'s serve.json`, async () => {
        const j = JSON.parse(await readFile(join(this.dir, 'serve.json'), 'utf8'));
        return j.pid === this.proc.pid ? j : null;
      }, 30_000, 100),
    ]);
    assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+$/, 'the UI listens on loopback');
    this.url = info.url;
    this.token = info.token;
  }

  async api(cmd, args = {}) {
    const res = await fetch(`${this.url}/api/call/${cmd}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${this.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(args),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${this.name} API ${cmd} -> HTTP ${res.status}: ${text}`);
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

/**
 * Elements whose content is wider than they are and spills out or scrolls sideways, at the
 * page's size now (text that should wrap or be cut, a column wider than its track). Code
 * blocks and text areas may scroll.
 */
async function overflowing(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('body *')]
      .filter((e) => {
        if (e.closest('pre, textarea, .cm-editor') || e.clientWidth === 0) return false;
        const x = getComputedStyle(e).overflowX;
        return x !== 'hidden' && x !== 'clip' && e.scrollWidth > e.clientWidth + 1;
      })
      .map((e) => `${e.tagName.toLowerCase()}${e.getAttribute('data-testid') ? `[data-testid=${e.getAttribute('data-testid')}]` : ''}.${[...e.classList].filter((c) => !c.startsWith('svelte-')).join('.')} (${e.scrollWidth} px in ${e.clientWidth})`),
  );
}

/** Serious and critical axe violations of the page as it is now. */
async function axeScan(page) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: AXE_SOURCE });
  const results = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, target: v.nodes[0]?.target?.join(' ') }));
  });
  return results;
}

describe('web mode: two peers, facilitator and learner', { timeout: 600_000 }, () => {
  const s = {}; // scenario state shared by the steps, in order
  let base;
  let A;
  let B;
  let browser;
  let pageA;
  let pageB;
  const pageErrors = [];
  const axeReport = {};

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'cohort-e2e-'));
    A = new Peer('Ada', join(base, 'ada'));
    B = new Peer('Ben', join(base, 'ben'));
    await A.cli('init', '--name', 'Ada');
    await B.cli('init', '--name', 'Ben');
    await A.serve();
    await B.serve();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const open = async (peer) => {
      const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      // Only loopback: anything else is refused.
      await ctx.route(/^(?!http:\/\/127\.0\.0\.1[:/]|ws:\/\/127\.0\.0\.1[:/]|data:|blob:|about:)/, (r) => r.abort());
      const page = await ctx.newPage();
      page.on('pageerror', (e) => pageErrors.push(`${peer.name}: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') pageErrors.push(`${peer.name} console: ${m.text()}`);
      });
      return page;
    };
    pageA = await open(A);
    pageB = await open(B);
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await Promise.all([A?.stop(), B?.stop()]);
    if (process.env.E2E_KEEP) console.log(`# data dirs kept in ${base}`);
    else if (base) await rm(base, { recursive: true, force: true });
    if (Object.keys(axeReport).length) console.log(`# axe violations (all impacts) per view: ${JSON.stringify(axeReport)}`);
  });

  const need = (...keys) => {
    for (const k of keys) if (s[k] === undefined) throw new Error(`an earlier step did not produce ${k}`);
  };

  test('Ada sets up the cohort, course and lesson via the CLI', async () => {
    s.space = (await A.cli('space', 'new', SPACE)).id;
    s.course = (await A.cli('course', 'new', '--space', SPACE, 'Botany')).id;
    s.lesson = (await A.cli('lesson', 'add', s.course, 'Photosynthesis', '--body', BODY)).id;
    const view = await A.api('lesson', { id: s.lesson });
    assert.equal(view.lesson.body, BODY);
  });

  test('Ben joins with an invite and is admitted', async () => {
    need('space', 'course');
    const invite = await A.cli('invite', 'create', '--space', SPACE);
    assert.match(invite.ticket, /^cohort1/);
    const join = await B.cli('join', invite.ticket);
    assert.equal(join.space, s.space);
    const courses = await until('the course on Ben', async () => {
      const list = await B.cli('course', 'list');
      return list.some((c) => c.id === s.course) ? list : null;
    });
    assert.ok(courses.find((c) => c.id === s.course && c.title === 'Botany'));
    await until('the lesson on Ben', () => B.api('lesson', { id: s.lesson }).then((v) => v.lesson.body === BODY));
  });

  test('both web UIs open with their token and show the cohort', async () => {
    need('space');
    // Both sign in before either is checked: a failed check on Ada's page must not leave
    // Ben's without its session for the steps after this one.
    const pages = [[pageA, A], [pageB, B]];
    await Promise.all(pages.map(([page, peer]) => page.goto(`${peer.url}/?token=${peer.token}`)));
    for (const [page, peer] of pages) {
      // The data dir was set up with the CLI (`init --name`, a cohort): no first-run screens,
      // even in a fresh browser profile that never saw this UI.
      await page.getByTestId('cohort-home').waitFor();
      assert.equal(await page.getByTestId('first-run').count(), 0, `${peer.name}: no first-run screens`);
      assert.ok(!page.url().includes(peer.token), `${peer.name}: the token is removed from the address bar`);
      assert.match(await page.getByTestId('sidebar').textContent(), new RegExp(`as ${peer.name}\\b`), 'the CLI-set name is shown');
      await page.getByTestId('sidebar').getByText(SPACE).first().waitFor();
      assert.equal(await page.locator('h1').count(), 1, 'one h1');
    }
  });

  test('Ben selects a passage in the lesson and asks a question about it (UI)', async () => {
    need('lesson');
    await pageB.goto(`${B.url}/#/lesson/${s.lesson}`);
    const article = pageB.getByTestId('lesson-body');
    await article.getByText('Chlorophyll', { exact: false }).waitFor();
    // Select the passage with a real mouse drag across its characters, once it stays where it
    // is: the page may still be laying out (the discussion panel, highlights) when the text
    // first shows, and a drag measured before that ends somewhere else.
    const passageBox = (passage) => pageB.evaluate((passage) => {
      const art = document.querySelector('[data-testid="lesson-body"]');
      const walker = document.createTreeWalker(art, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const i = n.data.indexOf(passage);
        if (i < 0) continue;
        const r1 = document.createRange();
        r1.setStart(n, i);
        r1.setEnd(n, i + 1);
        const r2 = document.createRange();
        r2.setStart(n, i + passage.length - 1);
        r2.setEnd(n, i + passage.length);
        const a = r1.getBoundingClientRect();
        const b = r2.getBoundingClientRect();
        return { x1: a.left + 1, y1: a.top + a.height / 2, x2: b.right - 1, y2: b.top + b.height / 2 };
      }
      return null;
    }, passage);
    let box = await passageBox(PASSAGE);
    for (let i = 0; i < 30; i++) {
      await pageB.waitForTimeout(100);
      const again = await passageBox(PASSAGE);
      if (JSON.stringify(again) === JSON.stringify(box)) break;
      box = again;
    }
    assert.ok(box, 'the passage is rendered');
    await pageB.mouse.move(box.x1, box.y1);
    await pageB.mouse.down();
    await pageB.mouse.move((box.x1 + box.x2) / 2, box.y2, { steps: 5 });
    await pageB.mouse.move(box.x2, box.y2, { steps: 5 });
    await pageB.mouse.up();
    assert.equal(await pageB.evaluate(() => window.getSelection()?.toString()), PASSAGE, 'the drag selected exactly the passage');
    await pageB.getByTestId('ask-about-this').click();
    const form = pageB.getByTestId('new-thread-form');
    await form.waitFor();
    assert.equal((await form.locator('blockquote.draft-quote').textContent()).trim(), PASSAGE);
    await pageB.getByTestId('thread-title').fill('Why not green?');
    await pageB.getByTestId('thread-body').fill('Why does chlorophyll skip green light?');
    await pageB.getByTestId('post-thread').click();
    const detail = pageB.getByTestId('thread-detail');
    await detail.waitFor();
    assert.equal((await detail.getByTestId('thread-anchor').locator('blockquote').textContent()).trim(), PASSAGE);
    const mark = article.locator('mark.anchor');
    await mark.first().waitFor();
    assert.equal((await mark.allTextContents()).join(''), PASSAGE, 'the passage is highlighted in the lesson');
    const threads = await B.api('threads', { space: s.space, lesson: s.lesson });
    assert.equal(threads.length, 1);
    s.thread = threads[0].id;
    const tv = await B.api('thread', { id: s.thread });
    assert.equal(tv.anchor?.state, 'attached');
    assert.equal(BODY.slice(tv.anchor.start, tv.anchor.end), PASSAGE);
    await mkdir(SHOTS, { recursive: true });
    await pageB.screenshot({ path: join(SHOTS, 'web-lesson-anchored-thread.png') });
  });

  test("Ada's page shows Ben's question (sync) and she answers in the UI", async () => {
    need('thread');
    await pageA.goto(`${A.url}/#/lesson/${s.lesson}`);
    const item = pageA.getByTestId('lesson-threads').getByRole('button', { name: /Why not green\?/ });
    await item.waitFor({ timeout: SYNC_TIMEOUT });
    await pageA.getByTestId('lesson-body').locator('mark.anchor').first().waitFor({ timeout: SYNC_TIMEOUT });
    assert.equal((await pageA.getByTestId('lesson-body').locator('mark.anchor').allTextContents()).join(''), PASSAGE);
    await item.click();
    const detail = pageA.getByTestId('thread-detail');
    await detail.getByText('Why does chlorophyll skip green light?').waitFor();
    await pageA.getByTestId('reply-input').fill('Green is reflected, so it is not absorbed: that is why leaves look green.');
    await pageA.getByTestId('send-reply').click();
    await detail.getByTestId('post').nth(1).waitFor();
    assert.equal(await detail.getByTestId('post').count(), 2);
  });

  test('Ben sees the answer and accepts it (UI)', async () => {
    need('thread');
    const detail = pageB.getByTestId('thread-detail');
    await detail.getByText('Green is reflected, so it is not absorbed').waitFor({ timeout: SYNC_TIMEOUT });
    await detail.getByTestId('accept').click();
    await detail.getByTestId('accepted-badge').waitFor();
    const tv = await B.api('thread', { id: s.thread });
    assert.equal(tv.thread.accepted, tv.thread.posts[1].id);
    // And the acceptance reaches Ada.
    await pageA.getByTestId('thread-detail').getByTestId('accepted-badge').waitFor({ timeout: SYNC_TIMEOUT });
  });

  test("Ada edits the text before the passage (API splice_lesson); Ben's highlight follows", async () => {
    need('thread');
    const pos = BODY.indexOf('Plants');
    await A.api('splice_lesson', { id: s.lesson, splices: [{ pos, delete: 0, insert: INSERTED }] });
    const article = pageB.getByTestId('lesson-body');
    await article.getByText('oxygen comes out', { exact: false }).waitFor({ timeout: SYNC_TIMEOUT });
    await until('the highlight to be re-rendered', async () => (await article.locator('mark.anchor').allTextContents()).join('') === PASSAGE, 10_000);
    assert.equal((await article.locator('mark.anchor').allTextContents()).join(''), PASSAGE);
    const tv = await B.api('thread', { id: s.thread });
    assert.equal(tv.anchor.state, 'attached');
    assert.equal(tv.anchor.start, BODY.indexOf(PASSAGE) + INSERTED.length, 'the anchor moved with the insertion');
    assert.equal(tv.anchor.text, PASSAGE);
  });

  test("Ben writes a private journal entry (UI); it never reaches Ada", async () => {
    await pageB.goto(`${B.url}/#/journal`);
    await pageB.getByTestId('new-journal-entry').click();
    await pageB.getByTestId('journal-title').fill('Tonight');
    await pageB.getByTestId('journal-body').fill(`I finally get photosynthesis. Private word: ${SECRET}.`);
    await pageB.getByTestId('save-journal').click();
    await pageB.getByTestId('journal-entry').getByText('Tonight').waitFor();
    const mine = await B.api('journal');
    assert.equal(mine.length, 1);
    s.journal = mine[0].id;
    const found = await until("Ben's own search to find it", async () => {
      const r = await B.api('search', { query: SECRET, limit: 10 });
      return r.length ? r : null;
    }, 15_000);
    assert.ok(found.length >= 1);
    // Give sync every chance to (wrongly) carry it over, then look on Ada's side.
    await B.api('sync_now');
    await A.api('sync_now');
    await sleep(4000);
    assert.deepEqual(await A.api('search', { query: SECRET, limit: 10 }), []);
    assert.deepEqual(await A.api('journal'), []);
    await assert.rejects(A.api('journal_entry', { id: s.journal }));
  });

  test('keyboard: Ctrl+K searches, Enter opens the result with focus on its heading, Escape closes', async () => {
    need('lesson', 'thread');
    await pageB.goto(`${B.url}/#/space/${s.space}`);
    await pageB.reload();
    await pageB.getByTestId('cohort-home').waitFor();
    // The home view's heading (the cohort's name, shown as the view mounts).
    await pageB.locator('main h1').waitFor();
    // On a freshly loaded page the first Tab reaches the skip link, which moves focus to the view's heading.
    await pageB.keyboard.press('Tab');
    assert.equal(await pageB.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    await pageB.keyboard.press('Enter');
    assert.equal(await pageB.evaluate(() => document.activeElement?.tagName), 'H1');
    assert.ok(pageB.url().endsWith(`#/space/${s.space}`), 'the skip link leaves the route alone');

    await pageB.keyboard.press('Control+k');
    const input = pageB.getByTestId('search-input');
    await input.waitFor();
    assert.equal(await pageB.evaluate(() => document.activeElement?.id), 'search-input', 'focus is in the search box');
    await pageB.keyboard.type('chlorophyll');
    await pageB.getByTestId('search-result').first().waitFor();
    await pageB.keyboard.press('Escape');
    await pageB.getByTestId('search-dialog').waitFor({ state: 'detached' });

    await pageB.keyboard.press('Control+k');
    await input.waitFor();
    await pageB.keyboard.type('Why not green');
    await pageB.getByTestId('search-result').first().waitFor();
    await pageB.keyboard.press('Enter');
    await pageB.getByTestId('search-dialog').waitFor({ state: 'detached' });
    await until('focus on the opened view\'s h1', () =>
      pageB.evaluate(() => document.activeElement?.tagName === 'H1' && document.activeElement.textContent.trim()),
      10_000,
      100,
    );
    assert.equal(await pageB.locator('h1').count(), 1);
  });

  test("Ben starts a discussion from the list; both lists shown again have it (Ada's after sync)", async () => {
    need('space');
    const TITLE = 'Study group on Thursday?';
    const threads = (peer) => `${peer.url}/#/space/${s.space}/threads`;
    const listed = (page) => page.getByTestId('thread-list').textContent().then((t) => t.includes(TITLE));
    // Ada has seen the list, then moved on: the app keeps it and patches it from changes.
    await pageA.goto(threads(A));
    await pageA.getByTestId('thread-list').waitFor();
    await pageA.evaluate((hash) => (window.location.hash = hash), `#/space/${s.space}`);
    await pageA.getByTestId('cohort-home').waitFor();

    await pageB.goto(threads(B));
    await pageB.getByTestId('thread-list').waitFor();
    await pageB.getByTestId('new-thread').click();
    await pageB.locator('#nt-title').fill(TITLE);
    await pageB.locator('#nt-body').fill('Anyone up for going through the lesson together?');
    await pageB.getByTestId('new-thread-form').getByRole('button', { name: 'Post' }).click();
    await until("Ben's new thread page", () => /#\/thread\/[0-9a-f]{32}$/.test(pageB.url()), 10_000, 100);
    await pageB.getByTestId('thread-page').waitFor();
    // Back to the list through the sidebar, as a person would: the new thread is there.
    await pageB.getByTestId('sidebar').getByRole('link', { name: 'Discussions' }).first().click();
    await pageB.getByTestId('thread-list').waitFor();
    await until('the new thread in the list Ben is shown again', () => listed(pageB), 5_000, 100);

    // Ada: the thread arrives by sync while her list is closed; opening it shows it.
    await until('the thread on Ada', () => A.api('threads', { space: s.space, lesson: null }).then((l) => l.some((t) => t.title === TITLE)));
    await pageA.getByTestId('sidebar').getByRole('link', { name: 'Discussions' }).first().click();
    await pageA.getByTestId('thread-list').waitFor();
    await until('the new thread in the list Ada is shown again', () => listed(pageA), 5_000, 100);
  });

  describe('accessibility (axe-core, serious or critical)', () => {
    const views = [
      ['home', () => `#/space/${s.space}`, 'cohort-home'],
      ['lesson', () => `#/lesson/${s.lesson}/thread/${s.thread}`, 'thread-detail'],
      ['thread', () => `#/thread/${s.thread}`, 'thread-detail'],
      ['journal', () => `#/journal/${s.journal}`, 'journal-entry'],
      ['sync panel', () => '#/sync', 'sync-status'],
      ['devices, with a device-link ticket', () => '#/sync', 'devices'],
      ['course outline', () => `#/course/${s.course}`, 'course-outline'],
      ['discussions', () => `#/space/${s.space}/threads`, 'thread-list'],
    ];
    for (const [name, hash, testid] of views) {
      test(`${name} view`, async () => {
        need('space', 'lesson', 'thread');
        await pageB.goto(`${B.url}/${hash()}`);
        await pageB.getByTestId(testid).first().waitFor();
        await sleep(300);
        if (name.startsWith('devices')) {
          // This device is listed and marked; a ticket to link another shows with its QR code.
          assert.match(await pageB.getByTestId('devices').textContent(), /This device/);
          await pageB.getByTestId('link-device').click();
          await pageB.getByTestId('device-qr').waitFor();
          assert.match(await pageB.getByTestId('device-ticket').locator('textarea').inputValue(), /^cohort1/);
        }
        if (name === 'thread') {
          await pageB.getByTestId('accepted-badge').waitFor();
          // The picture shows the page, not where keyboard focus happens to be.
          await pageB.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur());
          await pageB.screenshot({ path: join(SHOTS, 'web-thread.png') });
        }
        assert.equal(await pageB.locator('h1').count(), 1, `${name}: exactly one h1`);
        // Nothing wider than its place, in this window and in a small laptop's.
        assert.deepEqual(await overflowing(pageB), [], `${name}: content wider than its box`);
        const size = pageB.viewportSize();
        await pageB.setViewportSize({ width: 1024, height: 700 });
        try {
          await sleep(100);
          assert.deepEqual(await overflowing(pageB), [], `${name} at 1024 px: content wider than its box`);
        } finally {
          if (size) await pageB.setViewportSize(size);
        }
        const v = await axeScan(pageB);
        axeReport[name] = v.map((x) => `${x.id}(${x.impact}, ${x.nodes} node(s), e.g. ${x.target})`);
        const bad = v.filter((x) => x.impact === 'serious' || x.impact === 'critical');
        assert.deepEqual(bad, [], `${name}: ${JSON.stringify(bad)}`);
      });
    }
  });

  test('no uncaught errors in either page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
