// The console's package test, inside the webview: the latchkey-desktop binary unpacked
// from the console's .deb, started through tauri-driver under Xvfb as a new user starts
// it from the menu (no arguments, an empty home), opens to its first screen, and its
// About (Settings → Version) names the version and commit. Run by
// scripts/package-test.sh, which provides PKG_APP (absolute path of the unpacked
// binary), PKG_DRIVER (tauri-driver URL), PKG_SHOTS (screenshot directory), PKG_PORT
// (the embedded server's port, also given to the app as LATCHKEY_DESKTOP_PORT) and
// PKG_VERSION (what the packaged `latchkey --version` says after "latchkey ").
// Prints one "ok …"/"FAIL …" line per check and exits non-zero on a failure.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Driver } from '../ui/e2e/webdriver.mjs';

const { PKG_APP, PKG_DRIVER, PKG_SHOTS, PKG_PORT, PKG_VERSION } = process.env;
if (!PKG_APP || !PKG_DRIVER || !PKG_SHOTS || !PKG_PORT) {
  console.error('first-screen: run through scripts/package-test.sh');
  process.exit(2);
}
mkdirSync(PKG_SHOTS, { recursive: true });
const d = new Driver(PKG_DRIVER);
let failed = 0;

async function check(name, fn) {
  try {
    await fn();
    console.log(`ok ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}: ${e.message}`);
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
async function shot(name) {
  writeFileSync(join(PKG_SHOTS, `${name}.png`), Buffer.from(await d.screenshot(), 'base64'));
}

try {
  await d.start(PKG_APP, []);
  await check('the console opens from its package to the first screen: the embedded server\'s port and the first admin\'s password', async () => {
    const port = await d.waitFor('[data-testid=port]', { timeout: 60000 });
    assert((await d.text(port)) === PKG_PORT, `the port shown is ${PKG_PORT}`);
    const secret = await d.waitFor('[data-testid=secret-value]');
    assert((await d.text(secret)).length >= 20, 'a generated admin password is shown');
    await shot('package-01-first-screen');
  });
  const aboutName = PKG_VERSION
    ? 'its About shows the version and the commit, the same as the packaged latchkey --version'
    : 'its About shows the version and the commit';
  await check(aboutName, async () => {
    // The first admin's password dialog is on top; close it as a person does.
    await d.clickCss('[data-testid=secret-done]');
    if (await d.exec('return !!document.querySelector("[data-testid=secret-ask]");')) {
      await d.clickCss('[data-testid=secret-discard]');
    }
    await d.until('return !document.querySelector("[data-testid=secret-dialog]");', { what: 'the dialog closed' });
    await d.clickCss('#nav-settings');
    const version = await d.until(
      `const dt = [...document.querySelectorAll('dt')].find((e) => e.textContent.trim() === 'Version');
       return dt ? dt.nextElementSibling.textContent.trim() : null;`,
      { what: 'Settings → Version' },
    );
    assert(/^\d+\.\d+\.\d+ \(commit [0-9a-f]{7,}\)$/.test(version), `"${version}" is a version and a commit`);
    if (PKG_VERSION) assert(version === PKG_VERSION, `"${version}" is what latchkey --version says ("${PKG_VERSION}")`);
    await shot('package-02-about');
  });
} catch (e) {
  failed += 1;
  console.log(`FAIL the console opens under Xvfb: ${e.message}`);
} finally {
  await d.quit();
}
process.exit(failed ? 1 : 0);
