// The real Cohort desktop app, driven through tauri-driver + WebKitWebDriver under Xvfb.
// Started by ./run.sh, which builds the app, starts Xvfb and tauri-driver and sets:
//   COHORT_DESKTOP_APP  the binary      WEBDRIVER_PORT  tauri-driver's port
//   COHORT_BIN          the `cohort` CLI (the peer)
//   COHORT_DATA_DIR     a fresh data dir (kept across the two launches below)
//   SCREENSHOT_DIR      where the screenshots go (docs/screenshots)
//
// Scenario: first launch on an empty data dir (the sample course is created), first run
// (create a profile, create a cohort), create a course, a module and a lesson, post a
// thread, find it with search; then quit, launch again on the same data dir, and find
// everything still there. Last, another member's `cohort serve` node on loopback invites
// the app: it joins by ticket in the sync panel, the peer's cohort and course arrive through
// the app's own node, and a thread posted in the app reaches the peer.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { remote } from 'webdriverio';

const APP = required('COHORT_DESKTOP_APP');
const COHORT_BIN = required('COHORT_BIN');
const PORT = Number(required('WEBDRIVER_PORT'));
const SCREENSHOTS = required('SCREENSHOT_DIR');
const WAIT = 20_000;
const XSHOT = fileURLToPath(new URL('./xshot.py', import.meta.url));

const COHORT = 'Desktop e2e cohort';
const COURSE = 'Field notes 101';
const MODULE = 'Week one';
const LESSON = 'Observing carefully';
const THREAD = 'How do I keep field notes offline?';
const THREAD_BODY = 'Does the journal work without a network on the bus?';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run tests/desktop/run.sh`);
  return value;
}

/** Starts the app in a new WebDriver session (LAN discovery off: peers come from tickets). */
async function launch(args = ['--no-mdns']) {
  return remote({
    hostname: '127.0.0.1',
    port: PORT,
    logLevel: 'warn',
    connectionRetryCount: 0,
    waitforTimeout: WAIT,
    capabilities: {
      // WebKitWebDriver speaks classic WebDriver, not BiDi.
      'wdio:enforceWebDriverClassic': true,
      'tauri:options': { application: APP, args },
    },
  });
}

/** PIDs of running processes whose executable is the app under test. */
function appProcesses() {
  const app = realpathSync(APP);
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/exe`) === app) pids.push(Number(entry));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids;
}

/** Ends the session (which quits the app) and waits until the app has exited. */
async function quit(browser) {
  await browser.deleteSession();
  const deadline = Date.now() + WAIT;
  while (appProcesses().length > 0) {
    if (Date.now() > deadline) throw new Error(`the app did not exit: ${appProcesses()}`);
    await sleep(100);
  }
}

/**
 * Saves the app's window, as the display shows it, to SCREENSHOTS/`name` (xshot.py: with
 * compositing off, WebKitWebDriver's own screenshot command never answers).
 */
async function screenshot(browser, name) {
  const { x, y, width, height } = await browser.getWindowRect();
  // The frame after the last change is on the display.
  await browser.executeAsync((done) => requestAnimationFrame(() => requestAnimationFrame(() => done())));
  await run(XSHOT, [join(SCREENSHOTS, name), x, y, width, height].map(String));
}

const byTestId = (browser, id) => browser.$(`[data-testid="${id}"]`);

async function typeInto(browser, selector, text) {
  const input = await browser.$(selector);
  await input.waitForDisplayed();
  await input.setValue(text);
}

async function click(browser, selector) {
  const el = await browser.$(selector);
  await el.waitForClickable();
  await el.click();
}

async function currentHash(browser) {
  return browser.execute(() => window.location.hash);
}

/** Waits until the location hash matches `pattern`; returns the match. */
async function waitForHash(browser, pattern) {
  let match = null;
  await browser.waitUntil(
    async () => {
      match = (await currentHash(browser)).match(pattern);
      return match !== null;
    },
    { timeoutMsg: `the app never navigated to ${pattern}` },
  );
  return match;
}

/** The text of the first element matching `selector` (textContent: CSS does not hide it). */
async function textOf(browser, selector) {
  return browser.execute((sel) => document.querySelector(sel)?.textContent ?? '', selector);
}

/** Opens search, types `query`, and waits for a result that mentions `expected`. */
async function search(browser, query, expected) {
  await click(browser, '[data-testid="open-search"]');
  await typeInto(browser, '[data-testid="search-input"]', query);
  try {
    await browser.waitUntil(
      async () => (await textOf(browser, '[data-testid="search-results"]')).includes(expected),
    );
  } catch {
    const shown = await textOf(browser, '[data-testid="search-dialog"]');
    throw new Error(`search for "${query}" did not find "${expected}"; the dialog shows: ${shown}`);
  }
  await browser.keys('Escape');
  await (await byTestId(browser, 'search-dialog')).waitForDisplayed({ reverse: true });
}

const run = promisify(execFile);

/** A `cohort serve` peer on loopback: another member's device, run by the CLI. */
class Peer {
  constructor(name) {
    this.dir = mkdtempSync(join(tmpdir(), `cohort-desktop-peer-`));
    this.name = name;
    this.proc = null;
    this.log = '';
  }

  async cli(...args) {
    try {
      const { stdout } = await run(COHORT_BIN, ['--data-dir', this.dir, '--json', ...args], { timeout: 90_000 });
      return stdout.trim() ? JSON.parse(stdout) : null;
    } catch (e) {
      throw new Error(`cohort ${args.join(' ')} failed: ${e.stderr || e.message}\n${this.log}`);
    }
  }

  async serve() {
    this.proc = spawn(
      COHORT_BIN,
      ['--data-dir', this.dir, 'serve', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.proc.stdout.on('data', (d) => (this.log += d));
    this.proc.stderr.on('data', (d) => (this.log += d));
    const deadline = Date.now() + WAIT;
    for (;;) {
      try {
        const info = JSON.parse(readFileSync(join(this.dir, 'serve.json'), 'utf8'));
        if (info.pid === this.proc.pid) return;
      } catch {
        // Not written yet.
      }
      if (this.proc.exitCode !== null) throw new Error(`${this.name}'s node exited:\n${this.log}`);
      if (Date.now() > deadline) throw new Error(`${this.name}'s node did not start:\n${this.log}`);
      await sleep(100);
    }
  }

  async stop() {
    const p = this.proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await gone;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('the desktop app', () => {
  let browser;
  let space;

  before(async () => {
    assert.deepEqual(appProcesses(), [], 'no app is running before the test');
    browser = await launch();
  });

  after(async () => {
    if (browser) await browser.deleteSession().catch(() => {});
  });

  test('opens a window titled Cohort showing the UI', async () => {
    assert.equal(await browser.getTitle(), 'Cohort');
    const firstRun = await byTestId(browser, 'first-run');
    await firstRun.waitForDisplayed();
    assert.match(await firstRun.getText(), /Welcome to Cohort/);
    // The page is the app's own (tauri://), under its content security policy.
    const url = await browser.getUrl();
    assert.match(url, /^(tauri:\/\/localhost|http:\/\/tauri\.localhost)/);
  });

  test('first run: create a profile and a cohort', async () => {
    await typeInto(browser, '[data-testid="display-name"]', 'Ada');
    await click(browser, '[data-testid="save-profile"]');
    await click(browser, '[data-testid="start-cohort"]');
    await typeInto(browser, '#cohort-name', COHORT);
    await click(browser, '[data-testid="create-cohort-form"] button[type="submit"]');
    space = (await waitForHash(browser, /^#\/space\/([0-9a-f]{32})$/))[1];
    await (await byTestId(browser, 'cohort-home')).waitForDisplayed();
    // The sample course was created on first launch, beside the new cohort.
    const sidebar = await textOf(browser, '[data-testid="sidebar"]');
    assert.match(sidebar, new RegExp(COHORT));
    assert.match(sidebar, /Getting started/);
  });

  test('create a course, a module and a lesson', async () => {
    await click(browser, `a[href="#/space/${space}/courses"]`);
    await click(browser, '[data-testid="new-course"]');
    await typeInto(browser, '#course-title', COURSE);
    await click(browser, '[data-testid="new-course-form"] button[type="submit"]');
    await (await byTestId(browser, 'course-outline')).waitForDisplayed();
    await typeInto(browser, '#new-module', MODULE);
    await browser.keys('Enter');
    const lessonTitle = await browser.$('input[id^="lesson-title-"]');
    await lessonTitle.waitForDisplayed();
    await lessonTitle.setValue(LESSON);
    await browser.keys('Enter');
    await waitForHash(browser, /^#\/lesson\/[0-9a-f]{32}\/edit$/);
    await (await byTestId(browser, 'lesson-editor')).waitForDisplayed();
  });

  test('post a thread', async () => {
    await click(browser, `a[href="#/space/${space}/threads"]`);
    await click(browser, '[data-testid="new-thread"]');
    await typeInto(browser, '#nt-title', THREAD);
    await typeInto(browser, '#nt-body', THREAD_BODY);
    await click(browser, '[data-testid="new-thread-form"] button[type="submit"]');
    await waitForHash(browser, /^#\/thread\/[0-9a-f]{32}$/);
    const page = await byTestId(browser, 'thread-page');
    await page.waitForDisplayed();
    await browser.waitUntil(
      async () => (await textOf(browser, '[data-testid="thread-page"]')).includes(THREAD_BODY),
      { timeoutMsg: 'the new thread does not show its first post' },
    );
  });

  test('search finds the thread and the lesson', async () => {
    await search(browser, 'offline', THREAD);
    await search(browser, 'Observing', LESSON);
    await click(browser, `a[href="#/space/${space}/threads"]`);
    await (await byTestId(browser, 'threads')).waitForDisplayed();
    // The list shown again (from the app's cache) has the thread posted since it was open.
    await browser.waitUntil(
      async () => (await textOf(browser, '[data-testid="threads"]')).includes(THREAD),
      { timeout: 5000, timeoutMsg: 'the list shown again lacks the thread posted since' },
    );
    await screenshot(browser, 'desktop-threads.png');
  });

  test('a restart on the same data dir keeps everything', async () => {
    await quit(browser);
    browser = await launch();
    assert.equal(await browser.getTitle(), 'Cohort');
    // Onboarded already: the app opens on a cohort, not the welcome screen.
    await (await byTestId(browser, 'sidebar')).waitForDisplayed();
    assert.match(await textOf(browser, '[data-testid="sidebar"]'), new RegExp(COHORT));
    await click(browser, `a[href="#/space/${space}/courses"]`);
    await browser.waitUntil(
      async () => (await textOf(browser, '[data-testid="courses"]')).includes(COURSE),
      { timeoutMsg: 'the course is gone after a restart' },
    );
    await click(browser, `a[href="#/space/${space}/threads"]`);
    await browser.waitUntil(
      async () => (await textOf(browser, '[data-testid="threads"]')).includes(THREAD),
      { timeoutMsg: 'the thread is gone after a restart' },
    );
    await search(browser, 'offline', THREAD);
    await click(browser, `a[href="#/space/${space}"]`);
    await (await byTestId(browser, 'cohort-home')).waitForDisplayed();
    await screenshot(browser, 'desktop-main.png');
    await quit(browser);
    browser = null;
  });

  test("joins a peer's cohort by ticket and syncs both ways", async (t) => {
    const bea = new Peer('Bea');
    t.after(() => bea.stop());
    await bea.cli('init', '--name', 'Bea');
    const peerSpace = (await bea.cli('space', 'new', 'Peer cohort')).id;
    await bea.cli('course', 'new', '--space', 'Peer cohort', 'Shared botany');
    await bea.serve();
    const invite = await bea.cli('invite', 'create', '--space', 'Peer cohort');
    assert.match(invite.ticket, /^cohort1/);

    browser = await launch();
    await click(browser, '[data-testid="nav-sync"]');
    await typeInto(browser, '#join-ticket', invite.ticket);
    await click(browser, '[data-testid="join-form"] button[type="submit"]');
    // The app's own node dials Bea, is admitted, and the cohort arrives with its course.
    try {
      await browser.waitUntil(
        async () => (await textOf(browser, '[data-testid="sidebar"]')).includes('Peer cohort'),
        { timeout: 60_000 },
      );
    } catch {
      throw new Error(`the peer's cohort never arrived; Bea's node said:\n${bea.log}`);
    }
    await click(browser, `a[href="#/space/${peerSpace}/courses"]`);
    await browser.waitUntil(
      async () => (await textOf(browser, '[data-testid="courses"]')).includes('Shared botany'),
      { timeout: 60_000, timeoutMsg: 'the peer\'s course did not sync to the desktop app' },
    );

    // A thread posted in the app reaches Bea's device.
    const title = 'Posted from the desktop app';
    await click(browser, `a[href="#/space/${peerSpace}/threads"]`);
    await click(browser, '[data-testid="new-thread"]');
    await typeInto(browser, '#nt-title', title);
    await typeInto(browser, '#nt-body', 'Does this reach Bea?');
    await click(browser, '[data-testid="new-thread-form"] button[type="submit"]');
    await waitForHash(browser, /^#\/thread\/[0-9a-f]{32}$/);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const threads = await bea.cli('thread', 'list', '--space', 'Peer cohort');
      if (JSON.stringify(threads).includes(title)) break;
      if (Date.now() > deadline) throw new Error(`the thread never reached Bea: ${JSON.stringify(threads)}`);
      await sleep(300);
    }
    await quit(browser);
    browser = null;
  });
});
