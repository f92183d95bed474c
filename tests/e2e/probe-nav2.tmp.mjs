import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
const DIR = '/tmp/cohort-ui-bench';
const info0 = JSON.parse(await readFile(DIR + '/ui-bench.json', 'utf8'));
const proc = spawn('/tmp/h-ui-bin/cohort-release', ['--data-dir', DIR, 'serve', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--http', '127.0.0.1:0', '--ui', '/tmp/h-ui-dist-dev'], { stdio: 'ignore' });
let info;
for (;;) { try { info = JSON.parse(await readFile(DIR + '/serve.json', 'utf8')); if (info.pid === proc.pid) break; } catch {} await new Promise(r => setTimeout(r, 100)); }
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
await page.goto(`${info.url}/?token=${info.token}#/space/${info0.space}/threads`);
await page.locator('[data-testid="thread-list"] a.thread-row').first().waitFor();
const client = await page.context().newCDPSession(page);
await client.send('Profiler.enable');
await client.send('Profiler.setSamplingInterval', { interval: 100 });
const res = [];
await client.send('Profiler.start');
for (let i = 0; i < 15; i++) {
  await new Promise((r) => setTimeout(r, 400));
  res.push(await page.evaluate(async (i) => {
    const marks = {};
    const t0 = performance.now();
    window.addEventListener('hashchange', () => (marks.hash = performance.now() - t0), { once: true });
    const rows = [...document.querySelectorAll('[data-testid="thread-list"] a.thread-row')];
    const a = rows[i % rows.length];
    const title = a.querySelector('.t-title').textContent.trim();
    a.click();
    marks.clickDone = performance.now() - t0;
    await new Promise((r) => { const o = new MutationObserver(() => { if (document.querySelector('[data-testid="thread-detail"] h1')?.textContent.trim() === title) { o.disconnect(); r(); } }); o.observe(document.body, { subtree: true, childList: true, characterData: true }); });
    marks.dom = performance.now() - t0;
    const e = performance.getEntriesByType('resource').filter((x) => x.name.includes('/api/call/thread') && x.startTime > t0);
    marks.apiStart = e[0] ? e[0].startTime - t0 : null; marks.apiEnd = e[0] ? e[0].responseEnd - t0 : null;
    performance.clearResourceTimings();
    return marks;
  }, i));
  await new Promise((r) => setTimeout(r, 400));
  await page.evaluate(() => [...document.querySelectorAll('[data-testid="sidebar"] a')].find((a) => a.textContent.trim() === 'Discussions').click());
  await page.locator('[data-testid="thread-list"] a.thread-row').first().waitFor();
}
const { profile } = await client.send('Profiler.stop');
for (const m of res) console.log(Object.entries(m).map(([k, v]) => `${k}=${v?.toFixed(1)}`).join(' '));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const n = byId.get(profile.samples[i]);
  const key = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}:${n.callFrame.columnNumber}`;
  self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
}
for (const [k, v] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(v.toFixed(1).padStart(8), k);
// inclusive: sum sample time to every ancestor
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const incl = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const seen = new Set();
  for (let id = profile.samples[i]; id !== undefined; id = parent.get(id)) {
    const n = byId.get(id);
    const key = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}`;
    if (seen.has(key)) continue; seen.add(key);
    incl.set(key, (incl.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
}
console.log('--- inclusive');
for (const [k, v] of [...incl.entries()].filter(([k]) => k.includes('index-')).sort((a, b) => b[1] - a[1]).slice(0, 45)) console.log(v.toFixed(1).padStart(8), k);
await browser.close();
proc.kill('SIGTERM');
