// Used by bench/desktop.sh: cold start and idle PSS of the console and of the floor.
import { readFileSync, readdirSync } from 'node:fs';
import { Driver } from '../ui/e2e/webdriver.mjs';

const { CONSOLE, FLOOR, WORK, RUNS } = process.env;
const runs = Number(RUNS ?? 5);

function pssKb(rootPid) {
  // The app process and every descendant (WebKitWebProcess, WebKitNetworkProcess).
  const kids = new Map();
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const ppid = Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(p));
    } catch { /* gone */ }
  }
  let total = 0;
  const stack = [rootPid];
  while (stack.length) {
    const pid = stack.pop();
    try {
      const m = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').match(/^Pss:\s+(\d+) kB/m);
      if (m) total += Number(m[1]);
    } catch { /* gone */ }
    stack.push(...(kids.get(pid) ?? []));
  }
  return total;
}

function appPid(binary) {
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0')[0] === binary) return Number(p);
    } catch { /* gone */ }
  }
  return null;
}

async function measure(binary, args, readyCss) {
  const d = new Driver('http://127.0.0.1:4517');
  const t0 = performance.now();
  await d.start(binary, args);
  await d.waitFor(readyCss, { timeout: 60000 });
  const start = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 10000));
  const pid = appPid(binary);
  const pss = pid ? pssKb(pid) : NaN;
  await d.quit();
  await new Promise((r) => setTimeout(r, 500));
  return { start, pss };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const out = {};
for (const [name, bin, args, css] of [
  ['floor', FLOOR, [], '#ready'],
  ['console', CONSOLE, ['--db', `${WORK}/bench.db`, '--port', '0'], '[data-testid=stat-clients]'],
]) {
  const rs = [];
  for (let i = 0; i < runs; i++) rs.push(await measure(bin, args, css));
  out[name] = { start_ms: Math.round(median(rs.map((r) => r.start))), pss_mb: Math.round(median(rs.map((r) => r.pss)) / 1024) };
}
console.log(JSON.stringify(out));
console.log(`cold start: console ${out.console.start_ms} ms vs floor ${out.floor.start_ms} ms (target: floor + 500 ms)`);
console.log(`idle PSS:   console ${out.console.pss_mb} MB vs floor ${out.floor.pss_mb} MB (target: ≤ 1.25 × floor)`);
