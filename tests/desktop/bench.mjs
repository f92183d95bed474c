// Desktop benchmark (not part of the test run): the release desktop app on a data dir of
// 10,000 documents, side by side with an empty Tauri 2 app built with the same tauri
// version, features and profile (src-tauri/examples/empty_app.rs), both launched directly
// under Xvfb, as a person launches them (no WebDriver), alternating, RUNS times each.
//
// Per launch, from the moment this script started the app's process:
//   - painted: the page's first contentful paint (Paint Timing), i.e. the window shows text;
//   - interactive (Cohort only): the `cohort:interactive` mark, set on the frame after the
//     start view has rendered the list it loaded (ui/src/lib/perf.ts);
//   both as the page reports them to the app's `startup` command, which logs them
//   (src-tauri/src/startup.rs; the empty app shares that module and reports its paint the
//   same way, examples/empty_app/dist/startup.js);
//   - idle memory after IDLE_SECS: PSS (smaps_rollup) of the app process and every process
//     below it (WebKitWebProcess, WebKitNetworkProcess), summed.
// Budgets (issue "desktop app"): painted < 0.5 s, interactive < 1 s, idle PSS no more than
// the empty app's + 60 MB.
//
// Started by ./bench.sh, which builds both apps, starts Xvfb and sets:
//   COHORT_DESKTOP_APP, COHORT_EMPTY_APP   the two binaries
//   BENCH_DATA_DIR                          the 10,000-document data dir (read-only use)
//   RUNS (default 5), IDLE_SECS (default 10), BENCH_JSON (write raw results there)

import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

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

/** Fields of /proc/PID/stat after the command name (index 0 = state). */
function statFields(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
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

/** Wall-clock now in ms since the Unix epoch, sub-millisecond. */
const nowMs = () => performance.timeOrigin + performance.now();

/**
 * Launches `exe`, waits for its startup line (and the interactive mark if `needsMark`),
 * measures idle memory, and stops it.
 */
async function measure(label, exe, args, needsMark) {
  const launched = nowMs();
  const child = spawn(exe, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, COHORT_LOG: 'warn,cohort_desktop=info,empty_app=info' },
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let log = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => (log += d));
  try {
    const deadline = Date.now() + WAIT_MS;
    let marks = null;
    while (!marks) {
      // Log lines may carry colour codes.
      const line = log
        .replace(/\x1b\[[0-9;]*m/g, '')
        .split('\n')
        .find((l) => l.includes('startup: painted'));
      if (line) {
        const field = (name) => {
          const m = new RegExp(`${name}=([0-9.]+)`).exec(line);
          return m ? Number(m[1]) : null;
        };
        marks = { painted: field('painted_at_ms'), interactive: field('interactive_at_ms') };
        if (marks.painted === null || (needsMark && marks.interactive === null)) {
          throw new Error(`${label}: the startup line lacks a mark: ${line}`);
        }
        break;
      }
      if (child.exitCode !== null) throw new Error(`${label} exited (${child.exitCode}) before reporting its startup:\n${log}`);
      if (Date.now() > deadline) throw new Error(`${label}: no startup line after ${WAIT_MS} ms:\n${log}`);
      await sleep(20);
    }
    const since = (ms) => (ms === null ? null : ms - launched);
    await sleep(IDLE_SECS * 1000);
    const mem = pss(tree(child.pid));
    return { painted: since(marks.painted), interactive: since(marks.interactive), pssKb: mem.total, processes: mem.each };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
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
      `${fmtMb(cPss)} vs ${fmtMb(ePss)}: ${overMb >= 0 ? '+' : '−'}${Math.abs(overMb).toFixed(1)} MiB`,
      // Against the budget itself: the empty app's PSS plus 60 MiB.
      (cPss / (ePss + 60 * 1024)).toFixed(2),
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
