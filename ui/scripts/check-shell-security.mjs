#!/usr/bin/env node
// Fails when the desktop shell's security configuration weakens (security-catalogue.md
// §4): no CSP, remote origins in a capability, a "*" window, the global Tauri object,
// shell or broad fs permissions, dangerous* keys, devtools in release, an unknown
// command granted. Usage: node scripts/check-shell-security.mjs [src-tauri dir]
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Every problem found in the given configuration, as sentences. Empty = fine. */
export function audit({ conf, capabilities, cargoToml, commands }) {
  const p = [];
  const app = conf.app ?? {};
  const sec = app.security ?? {};

  const walk = (v, path) => {
    if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (/^dangerous/i.test(k)) p.push(`${path}.${k}: dangerous* keys are not allowed`);
        walk(x, `${path}.${k}`);
      }
    }
  };
  walk(conf, 'tauri.conf.json');

  const csp = sec.csp;
  if (csp == null) p.push('app.security.csp is null or missing: a strict CSP is required');
  else {
    const text = typeof csp === 'string' ? csp : Object.entries(csp).map(([k, v]) => `${k} ${[].concat(v).join(' ')}`).join('; ');
    const dir = (name) => (text.split(';').map((d) => d.trim()).find((d) => d.startsWith(`${name} `)) ?? '');
    if (!/default-src 'self'/.test(text)) p.push("csp: default-src must be 'self'");
    const script = dir('script-src') || dir('default-src');
    if (/unsafe-inline|unsafe-eval|\*|https?:/.test(script)) p.push(`csp: script-src too broad (${script})`);
    const connect = dir('connect-src');
    if (!connect.includes('ipc:') || !connect.includes('http://ipc.localhost')) p.push('csp: connect-src must allow ipc: http://ipc.localhost (and nothing broad)');
    if (/\*|https:(?!\/\/)|\bhttps?:\/\/(?!ipc\.localhost)/.test(connect)) p.push(`csp: connect-src too broad (${connect})`);
    if (!/object-src 'none'/.test(text)) p.push("csp: object-src must be 'none'");
    // With the isolation pattern, frame-src stays unset: it falls back to default-src,
    // to which Tauri adds the per-launch isolation scheme (isolation-<uuid>:), the one
    // frame the page may hold besides its own origin. Without the pattern, no frames.
    const frames = dir('frame-src');
    if (sec.pattern?.use === 'isolation' ? frames !== '' : frames !== "frame-src 'none'") {
      p.push(`csp: frame-src must be ${sec.pattern?.use === 'isolation' ? "unset (default-src 'self' + Tauri's isolation scheme)" : "'none'"} (is ${frames || 'unset'})`);
    }
  }
  if (app.withGlobalTauri !== false) p.push('app.withGlobalTauri must be false');
  if (sec.freezePrototype !== true) p.push('app.security.freezePrototype must be true');
  if (sec.assetProtocol?.enable) p.push('app.security.assetProtocol must stay disabled');
  if (sec.pattern?.use !== 'isolation') p.push('app.security.pattern must be the isolation pattern (every IPC message through ui/isolation)');

  // tauri-build names a command's permission allow-<command> with hyphens for underscores.
  const allowed = new Set(commands.map((c) => `allow-${c.replace(/_/g, '-')}`));
  for (const [file, cap] of Object.entries(capabilities)) {
    if (cap.remote) p.push(`${file}: remote origins are not allowed`);
    for (const w of [...(cap.windows ?? []), ...(cap.webviews ?? [])]) {
      if (w.includes('*')) p.push(`${file}: window/webview pattern "${w}" is not allowed`);
    }
    for (const perm of cap.permissions ?? []) {
      const id = typeof perm === 'string' ? perm : perm.identifier;
      if (/^shell:/.test(id)) p.push(`${file}: ${id}: no shell plugin`);
      if (/^fs:/.test(id)) p.push(`${file}: ${id}: no fs plugin permissions`);
      if (/^http:/.test(id)) p.push(`${file}: ${id}: networking belongs in Rust`);
      if (typeof perm === 'object' && JSON.stringify(perm).includes('$HOME')) p.push(`${file}: ${id}: $HOME scopes are not allowed`);
      if (!id.includes(':') && !allowed.has(id)) p.push(`${file}: ${id} grants a command that is not in the app manifest`);
      if (id === 'core:default') p.push(`${file}: core:default is broader than the UI needs; grant core permissions one by one`);
    }
  }
  if (/tauri-plugin-shell/.test(cargoToml)) p.push('src-tauri/Cargo.toml: the shell plugin is not allowed');
  if (/tauri\s*=\s*\{[^}]*"devtools"/.test(cargoToml)) p.push('src-tauri/Cargo.toml: the devtools feature must not ship');
  return p;
}

/** Reads the real configuration from `dir` (src-tauri). */
export function load(dir) {
  const conf = JSON.parse(readFileSync(join(dir, 'tauri.conf.json'), 'utf8'));
  const capabilities = {};
  for (const f of readdirSync(join(dir, 'capabilities')).filter((f) => f.endsWith('.json'))) {
    capabilities[`capabilities/${f}`] = JSON.parse(readFileSync(join(dir, 'capabilities', f), 'utf8'));
  }
  const cargoToml = readFileSync(join(dir, 'Cargo.toml'), 'utf8');
  // The app manifest: build.rs includes src/command_names.rs, whose list is the shell's
  // own commands (named in `with_commands!`) plus every admin operation of the op table,
  // read here from its generated TypeScript twin (ui/src/lib/api/operations.gen.ts).
  const buildRs = readFileSync(join(dir, 'build.rs'), 'utf8');
  const commands = [];
  if (buildRs.includes('include!("src/command_names.rs")')) {
    const names = readFileSync(join(dir, 'src', 'command_names.rs'), 'utf8');
    const own = names.match(/for_each_admin_op!\s*\{\s*\$cb\s+([a-z_\s]+?)\s*\}/);
    if (own) commands.push(...own[1].split(/\s+/));
    const ops = readFileSync(join(dir, '..', 'ui', 'src', 'lib', 'api', 'operations.gen.ts'), 'utf8');
    commands.push(...[...ops.matchAll(/^\s+\{ name: '([a-z_]+)'/gm)].map((m) => m[1]));
  }
  return { conf, capabilities, cargoToml, commands };
}

const here = dirname(fileURLToPath(import.meta.url));
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = resolve(process.argv[2] ?? join(here, '..', '..', 'src-tauri'));
  const problems = audit(load(dir));
  for (const x of problems) console.error(`shell security: ${x}`);
  if (problems.length) process.exit(1);
  console.log('shell security: tauri.conf.json and capabilities pass the checklist');
}
