// Desktop benchmark (not part of the test run): the release desktop app on a data dir of
// 10,000 documents, side by side with an empty Tauri 2 app built with the same tauri
// version, features and profile (src-tauri/examples/empty_app.rs), both launched the same
// way (tauri-driver + WebKitWebDriver under Xvfb), alternating, RUNS times each.
//
// Per launch, from the moment the kernel started the app's process (/proc/PID/stat):
//   - painted: the page's first contentful paint (Paint Timing, performance.timeOrigin +
//     startTime), i.e. the window shows something;
//   - interactive (Cohort only): the `cohort:interactive` mark, set on the frame after the
//     start view has rendered the list it loaded (ui/src/lib/perf.ts);
//   - idle memory after IDLE_SECS: PSS (smaps_rollup) of the app process and every process
//     below it (WebKitWebProcess, WebKitNetworkProcess), summed.
// Budgets (issue "desktop app"): painted < 0.5 s, interactive < 1 s, idle PSS no more than
// the empty app's + 60 MB.
//
// Started by ./bench.sh, which builds both apps and sets:
//   COHORT_DESKTOP_APP, COHORT_EMPTY_APP   the two binaries
//   WEBDRIVER_PORT                          tauri-driver's port
//   BENCH_DATA_DIR                          the 10,000-document data dir (read-only use)
//   RUNS (default 5), IDLE_SECS (default 10), BENCH_JSON (write raw results there)

import { readFileSync, readdirSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { remote } from 'webdriverio';

const PORT = Number(required('WEBDRIVER_PORT'));
const COHORT = required('COHORT_DESKTOP_APP');
const EMPTY = required('COHORT_EMPTY_APP');
const DATA = required('BENCH_DATA_DIR');
const RUNS = Number(process.env.RUNS ?? 5);
const IDLE_SECS = Number(process.env.IDLE_SECS ?? 10);
const WAIT_MS = 60_000;

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run tests/desktop/bench.sh`);
  return value;
}

const CLK_TCK = 100; // USER_HZ on Linux
const BOOT_MS = (() => {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('btime '));
  if (!line) throw new Error('no btime in /proc/stat');
  return Number(line.split(/\s+/)[1]) * 1000;
})();

/** Fields of /proc/PID/stat after the command name (index 0 = state). */
function statFields(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** When the kernel started PID, in epoch milliseconds (10 ms resolution). */
function startedAtMs(pid) {
  return BOOT_MS + (Number(statFields(pid)[19]) / CLK_TCK) * 1000;
}

function pidsOf(exe) {
  const real = realpathSync(exe);
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/exe`) === real) pids.push(Number(entry));
    } catch {
      // Gone, or not ours.
    }
  }
  return pids;
}

/** PID and every process below it. */
function tree(root) {
  const parent = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      parent.set(Number(entry), Number(statFields(entry)[1]));
    } catch {
      // Gone.
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid);
  }
  return out;
}

/** Summed PSS (kB) of the processes, with each one's name and PSS. */
function pss(pids) {
  let total = 0;
  const each = [];
  for (const pid of pids) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      const kb = Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
      const name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      total += kb;
      each.push({ pid, name, kb });
    } catch {
      // Exited meanwhile.
    }
  }
  return { total, each };
}

async function launch(application, args) {
  return remote({
    hostname: '127.0.0.1',
    port: PORT,
    logLevel: 'warn',
    connectionRetryCount: 0,
    capabilities: {
      'wdio:enforceWebDriverClassic': true,
      'tauri:options': { application, args },
    },
  });
}

/** Page timings: timeOrigin, first (contentful) paint and the interactive mark, if set. */
async function timings(browser) {
  return browser.execute(() => {
    const paint = {};
    for (const e of performance.getEntriesByType('paint')) paint[e.name] = e.startTime;
    const mark = performance.getEntriesByName('cohort:interactive', 'mark')[0];
    const nav = performance.getEntriesByType('navigation')[0];
    return {
      origin: performance.timeOrigin,
      paint,
      interactive: mark ? mark.startTime : null,
      domContentLoaded: nav ? nav.domContentLoadedEventEnd : null,
      load: nav ? nav.loadEventEnd : null,
    };
  });
}

async function measure(label, exe, args, needsMark) {
  const browser = await launch(exe, args);
  try {
    const pids = pidsOf(exe);
    if (pids.length !== 1) throw new Error(`${label}: expected one app process, found ${pids}`);
    const pid = pids[0];
    const started = startedAtMs(pid);
    const deadline = Date.now() + WAIT_MS;
    let t;
    for (;;) {
      t = await timings(browser);
      const painted = t.paint['first-contentful-paint'] ?? null;
      if (painted !== null && (!needsMark || t.interactive !== null)) break;
      if (Date.now() > deadline) throw new Error(`${label}: no paint/interactive mark after ${WAIT_MS} ms: ${JSON.stringify(t)}`);
      await sleep(20);
    }
    const since = (ms) => (ms === null ? null : t.origin + ms - started);
    await sleep(IDLE_SECS * 1000);
    const mem = pss(tree(pid));
    return {
      painted: since(t.paint['first-contentful-paint']),
      firstPaint: since(t.paint['first-paint'] ?? null),
      interactive: since(t.interactive),
      load: since(t.load),
      pssKb: mem.total,
      processes: mem.each,
    };
  } finally {
    await browser.deleteSession().catch(() => {});
    const deadline = Date.now() + 20_000;
    while (pidsOf(exe).length > 0 && Date.now() < deadline) await sleep(100);
  }
}

const median = (xs) => {
  const s = xs.filter((x) => x !== null).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : null;
};
const fmtMs = (x) => (x === null ? 'n/a' : `${Math.round(x)} ms`);
const fmtMb = (kb) => `${(kb / 1024).toFixed(1)} MiB`;

async function main() {
  const results = { cohort: [], empty: [] };
  // One warm-up launch of each (page cache, fontconfig cache), not counted.
  console.error('warm-up launches...');
  await measure('empty app', EMPTY, [], false);
  await measure('cohort', COHORT, ['--data-dir', DATA, '--no-mdns'], true);
  for (let i = 0; i < RUNS; i++) {
    results.empty.push(await measure('empty app', EMPTY, [], false));
    results.cohort.push(await measure('cohort', COHORT, ['--data-dir', DATA, '--no-mdns'], true));
    const c = results.cohort.at(-1);
    const e = results.empty.at(-1);
    console.error(
      `run ${i + 1}/${RUNS}: cohort painted ${fmtMs(c.painted)}, interactive ${fmtMs(c.interactive)}, ${fmtMb(c.pssKb)}; ` +
        `empty painted ${fmtMs(e.painted)}, ${fmtMb(e.pssKb)}`,
    );
  }
  const m = (who, key) => median(results[who].map((r) => r[key]));
  const cPaint = m('cohort', 'painted');
  const cInter = m('cohort', 'interactive');
  const ePaint = m('empty', 'painted');
  const cPss = m('cohort', 'pssKb');
  const ePss = m('empty', 'pssKb');
  const overMb = (cPss - ePss) / 1024;
  const rows = [
    ['window painted (first contentful paint)', '< 500 ms', `${fmtMs(cPaint)} (empty app: ${fmtMs(ePaint)})`, (cPaint / 500).toFixed(2)],
    ['interactive (start view rendered its list)', '< 1000 ms', fmtMs(cInter), (cInter / 1000).toFixed(2)],
    [
      `idle PSS after ${IDLE_SECS} s, app + WebKit processes`,
      '<= empty app + 60 MB',
      `${fmtMb(cPss)} vs ${fmtMb(ePss)}: +${overMb.toFixed(1)} MiB`,
      (overMb / 60).toFixed(2),
    ],
  ];
  console.log(`| benchmark (median of ${RUNS}) | budget | measured | ratio |`);
  console.log('|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  const last = results.cohort.at(-1);
  console.log(`\nprocesses of the last Cohort launch: ${last.processes.map((p) => `${p.name} ${fmtMb(p.kb)}`).join(', ')}`);
  const lastEmpty = results.empty.at(-1);
  console.log(`processes of the last empty-app launch: ${lastEmpty.processes.map((p) => `${p.name} ${fmtMb(p.kb)}`).join(', ')}`);
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(results, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
