import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { audit, load } from '../scripts/check-shell-security.mjs';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src-tauri');
type Cfg = { conf: Record<string, any>; capabilities: Record<string, any>; cargoToml: string; commands: string[] };
const real = (): Cfg => structuredClone(load(dir));

describe('the shell security check', () => {
  it('passes the real configuration', () => {
    expect(audit(real())).toEqual([]);
  });

  const cases: [string, (c: Cfg) => void, RegExp][] = [
    ['a null CSP', (c) => (c.conf.app.security.csp = null), /csp is null/],
    ['inline scripts', (c) => (c.conf.app.security.csp = c.conf.app.security.csp.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")), /script-src too broad/],
    ['a CSP without the IPC origin', (c) => (c.conf.app.security.csp = c.conf.app.security.csp.replace('connect-src ipc: http://ipc.localhost', "connect-src 'self'")), /connect-src/],
    ['the global Tauri object', (c) => (c.conf.app.withGlobalTauri = true), /withGlobalTauri/],
    ['an unfrozen prototype', (c) => (c.conf.app.security.freezePrototype = false), /freezePrototype/],
    ['a dangerous key', (c) => (c.conf.app.security.dangerousDisableAssetCspModification = true), /dangerous/],
    ['a remote origin', (c) => (c.capabilities['capabilities/main.json'].remote = { urls: ['https://*'] }), /remote/],
    ['a "*" window', (c) => (c.capabilities['capabilities/main.json'].windows = ['*']), /pattern "\*"/],
    ['the shell plugin', (c) => c.capabilities['capabilities/main.json'].permissions.push('shell:allow-execute'), /no shell/],
    ['a $HOME fs scope', (c) => c.capabilities['capabilities/main.json'].permissions.push({ identifier: 'fs:allow-read', allow: [{ path: '$HOME/**' }] }), /fs plugin|\$HOME/],
    ['a command outside the manifest', (c) => c.capabilities['capabilities/main.json'].permissions.push('allow-eval-js'), /not in the app manifest/],
    ['devtools in release', (c) => (c.cargoToml = c.cargoToml.replace('tauri = { version = "2", features = ["isolation"] }', 'tauri = { version = "2", features = ["isolation", "devtools"] }')), /devtools/],
    ['no isolation pattern', (c) => delete c.conf.app.security.pattern, /isolation pattern/],
    ['frames from anywhere', (c) => (c.conf.app.security.csp = c.conf.app.security.csp.replace("object-src 'none'", "frame-src https:; object-src 'none'")), /frame-src must be/],
  ];
  for (const [what, spoil, expected] of cases) {
    it(`fails on ${what}`, () => {
      const c = real();
      spoil(c);
      const problems: string[] = audit(c);
      expect(problems.join('\n')).toMatch(expected);
    });
  }
});
