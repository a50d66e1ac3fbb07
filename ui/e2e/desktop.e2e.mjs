// End-to-end tests of the real console: the built latchkey-desktop binary driven through
// tauri-driver + WebKitWebDriver under Xvfb, first on a temporary embedded store with the
// authorization server in-process, then switched to a separate `latchkey serve` signed
// in with an admin API key, where the same story runs again. Run by
// scripts/desktop-e2e.sh, which provides: E2E_APP (absolute path of the binary), E2E_DB,
// E2E_PORT, E2E_CONNECTIONS, E2E_DRIVER (tauri-driver URL), E2E_SHOTS (screenshot
// directory), and the remote server's E2E_REMOTE_ISSUER, E2E_REMOTE_ADMIN,
// E2E_REMOTE_PASSWORD (user root) and E2E_REMOTE_API_KEY.
// Prints "N passed, M failed" and exits non-zero on any failure.
import { writeFileSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { Driver, Keys } from './webdriver.mjs';
import { signIn, introspect, formSignIn } from './oauth.mjs';

const {
  E2E_APP, E2E_DB, E2E_PORT, E2E_DRIVER, E2E_SHOTS, E2E_CONNECTIONS,
  E2E_REMOTE_ISSUER, E2E_REMOTE_ADMIN, E2E_REMOTE_PASSWORD, E2E_REMOTE_API_KEY,
} = process.env;
if (!E2E_APP || !E2E_DB || !E2E_PORT || !E2E_DRIVER || !E2E_SHOTS || !E2E_CONNECTIONS
  || !E2E_REMOTE_ISSUER || !E2E_REMOTE_ADMIN || !E2E_REMOTE_PASSWORD || !E2E_REMOTE_API_KEY) {
  console.error('desktop e2e: run through scripts/desktop-e2e.sh');
  process.exit(2);
}
const local = { name: 'embedded', issuer: `http://127.0.0.1:${E2E_PORT}`, username: 'admin' };
const remote = { name: 'remote', issuer: E2E_REMOTE_ISSUER, username: 'root', password: E2E_REMOTE_PASSWORD };
mkdirSync(E2E_SHOTS, { recursive: true });

const d = new Driver(E2E_DRIVER);
// What the tests learn along the way (they run in order, as one story): per connection.
const world = { embedded: {}, remote: {} };

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function shot(name) {
  const png = await d.screenshot();
  writeFileSync(join(E2E_SHOTS, `${name}.png`), Buffer.from(png, 'base64'));
}

async function go(page) {
  await d.clickCss(`#nav-${page}`);
}

// axe-core, the accessibility engine, run inside the real webview (issue 12 §9).
const AXE_SOURCE = readFileSync(new URL('../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
/** The serious and critical WCAG 2.1 A/AA violations on the page now. */
async function axe() {
  const r = await d.execAsync(
    // The page's CSP refuses eval; WebDriver's own script is not eval'd by the page.
    `const done = arguments[arguments.length - 1];
     if (!window.axe) { ${AXE_SOURCE}\n }
     window.axe.run(document, { iframes: false, resultTypes: ['violations'],
       runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
       .then((res) => done(res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
         .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
           nodes: v.nodes.slice(0, 4).map((n) => n.target.join(' ') + ': ' + (n.failureSummary || '').replace(/\\s+/g, ' ').slice(0, 160)) }))),
         (e) => done([{ id: 'axe-error', impact: 'critical', help: String(e), nodes: [] }]));`,
  );
  return r;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until nothing matches `css`. */
async function waitGone(css, timeout = 10000) {
  const end = Date.now() + timeout;
  while (await d.exec(`return !!document.querySelector(${JSON.stringify(css)});`)) {
    if (Date.now() > end) throw new Error(`${css} is still there`);
    await sleep(100);
  }
}

/** What has focus, in words a failure message can show. */
const focused = () => d.exec(
  `const a = document.activeElement;
   return a ? { tag: a.tagName, testid: a.dataset?.testid ?? null, id: a.id, value: a.value ?? null, label: a.getAttribute('aria-label') } : null;`,
);

/** An element found by script (the top dialog's button with a given text, say). */
async function byScript(script) {
  const v = await d.exec(script);
  if (!v) throw new Error(`nothing found by ${script}`);
  return Object.values(v)[0];
}
const topDialogButton = (text) => byScript(
  `const b = [...[...document.querySelectorAll('[role=dialog]')].at(-1).querySelectorAll('button')].find((b) => b.textContent.trim() === ${JSON.stringify(text)}); return b ?? null;`,
);

/** Closes the one-time secret dialog the way a person does: copy, then "I have copied
 * it". Where the webview's clipboard refused the copy, the dialog asks; the test has
 * read the value already, so it closes anyway. */
async function closeSecret() {
  await d.clickCss('[data-testid=copy-secret]');
  await d.waitFor('[data-testid=copy-secret]', { pred: (t) => t === 'Copied', timeout: 3000 }).catch(() => {});
  await d.clickCss('[data-testid=secret-done]');
  if (await d.exec(`return !!document.querySelector('[data-testid=secret-ask]');`)) {
    await d.clickCss('[data-testid=secret-discard]');
  }
  await waitGone('[data-testid=secret-dialog]');
}

/** Counts the clicks a task takes through the real window (issue 12: each daily task in
 * at most six). Typing and pasting are not clicks; every click a person makes is one,
 * the sidebar's included. */
function clickCounter() {
  let n = 0;
  return {
    get n() { return n; },
    async css(sel) { n++; await d.clickCss(sel); },
    async el(id) { n++; await d.click(id); },
    // Waits for what the script finds (an answer may still be on its way), then clicks.
    async script(s) { n++; const v = await d.until(s, { what: s }); await d.click(Object.values(v)[0]); },
  };
}
const dailyCounts = [];
/** Runs one daily task with a fresh counter and asserts its clicks. */
async function task(name, max, fn) {
  const c = clickCounter();
  await fn(c);
  dailyCounts.push(`${name}: ${c.n} click${c.n === 1 ? '' : 's'}`);
  assert(c.n <= max, `${name} took ${c.n} clicks (at most ${max})`);
}
/** Closes the shown-once dialog with counted clicks: copy, then "I have copied it". */
async function closeSecretCounted(c) {
  await c.css('[data-testid=copy-secret]');
  await d.waitFor('[data-testid=copy-secret]', { pred: (t) => t === 'Copied', timeout: 3000 }).catch(() => {});
  await c.css('[data-testid=secret-done]');
  if (await d.exec(`return !!document.querySelector('[data-testid=secret-ask]');`)) await c.css('[data-testid=secret-discard]');
  await waitGone('[data-testid=secret-dialog]');
}
const rowOf = (name, css) => `return [...document.querySelectorAll('[data-testid=client-row]')].find((r) => r.querySelector('[data-testid=client-name-link]')?.textContent === ${JSON.stringify(name)})?.querySelector(${JSON.stringify(css)}) ?? null;`;

/** After Connect or Switch on the embedded store: when apps are signed in to it the
 * switcher asks first (issue 12 §6); say yes. */
async function confirmLeaving() {
  const id = await d.waitFor('[data-testid=conn-leave-confirm]', { timeout: 4000 }).catch(() => null);
  if (id) await d.click(id);
}

// The story both connections run: register, sign in, inspect, revoke, rotate.
const story = (c) => [
  [`${c.name}: a client registered through the wizard gets its secret shown once`, async () => {
    await go('clients');
    await d.clickCss('[data-testid=new-client]');
    await d.clickCss('input[type=radio][value=web]');
    await d.clickCss('[data-testid=wizard-next]');
    await d.fill(await d.waitFor('[data-testid=client-name]'), 'E2E web app');
    w(c).redirectUri = 'http://127.0.0.1:9/callback';
    await d.fill(await d.find('[data-testid=client-redirects]'), w(c).redirectUri);
    await shot(`${c.name}-02-wizard`);
    await d.clickCss('[data-testid=wizard-create]');
    const secret = await d.waitFor('[data-testid=secret-value]');
    w(c).clientSecret = await d.text(secret);
    assert(w(c).clientSecret.length >= 20, 'the client secret is shown');
    // The table reloads after the answer: wait for the row, not a fixed time.
    const ids = await d.until(
      `return [...document.querySelectorAll('[data-testid=client-row]')]
         .filter((r) => r.textContent.includes('E2E web app'))
         .map((r) => r.querySelector('td:nth-child(2) code').textContent);`,
      { what: 'the new client in the table' },
    );
    assert(ids.length === 1, 'the new client is in the table');
    w(c).clientId = ids[0];
    await shot(`${c.name}-03-client-created`);

    // Issue 12 §2: one dialog with everything needed to use the secret.
    const shown = await d.exec(
      `const v = (k) => document.querySelector('[data-testid=secret-dialog] [data-field=' + k + ']')?.textContent;
       return { id: v('client_id'), endpoint: v('token_endpoint'), env: !!document.querySelector('[data-testid=copy-env]'), json: !!document.querySelector('[data-testid=copy-json]') };`,
    );
    assert(shown.id === w(c).clientId, `the dialog holds the client id (${shown.id})`);
    assert(shown.endpoint === `${c.issuer}/token`, `the dialog holds the token endpoint (${shown.endpoint})`);
    assert(shown.env && shown.json, 'it can be copied as .env and JSON');
    // Escape with focus anywhere does not close it, and says why.
    await d.exec('document.activeElement?.blur(); return 1;');
    await d.keys(Keys.Escape);
    await d.waitFor('[data-testid=secret-esc-hint]');
    assert((await d.text(await d.find('[data-testid=secret-value]'))) === w(c).clientSecret, 'Escape left the secret on screen');
    // It survives a page change (Alt+1 goes to the Dashboard behind it) until dismissed.
    await d.keys([Keys.Alt, '1']);
    await d.waitFor('#nav-dashboard[aria-current=page]');
    assert((await d.text(await d.find('[data-testid=secret-value]'))) === w(c).clientSecret, 'the secret survives the page change');
    await shot(`${c.name}-03b-secret-after-page-change`);
    // Closing before copying asks; going back keeps it.
    await d.clickCss('[data-testid=secret-done]');
    await d.waitFor('[data-testid=secret-ask]');
    await d.clickCss('[data-testid=secret-back]');
    await waitGone('[data-testid=secret-ask]');
    await closeSecret();
    const html = await d.exec('return document.body.innerHTML;');
    assert(!html.includes(w(c).clientSecret), 'the secret is gone from the page once dismissed');
  }],

  [`${c.name}: a scripted sign-in makes a session, and the inspector verifies its access token`, async () => {
    w(c).tokens = await signIn({
      issuer: c.issuer, clientId: w(c).clientId, clientSecret: w(c).clientSecret, redirectUri: w(c).redirectUri,
      username: c.username, password: c.password ?? world.embedded.adminPassword,
    });
    assert(w(c).tokens.access_token, 'an access token was issued');
    await go('tokens');
    await d.fill(await d.waitFor('[data-testid=token-input]'), w(c).tokens.access_token);
    await d.clickCss('[data-testid=inspect]');
    const verdict = await d.waitFor('[data-testid=verdict]');
    assert((await d.attr(verdict, 'data-valid')) === 'true', `the token is valid: ${await d.text(verdict)}`);
    const sig = await d.find('[data-check=signature]');
    assert((await d.attr(sig, 'data-ok')) === 'true', 'the signature verifies against the server keys');
    const sub = await d.find('[data-claim=sub]');
    assert((await d.text(sub)).length > 0, 'claims are listed');
    await shot(`${c.name}-04-inspector`);
  }],

  [`${c.name}: revoking the session by clicking makes its token introspect inactive`, async () => {
    const before = await introspect({ issuer: c.issuer, clientId: w(c).clientId, clientSecret: w(c).clientSecret, token: w(c).tokens.access_token });
    assert(before.active === true, 'active before the revoke');
    await go('sessions');
    await d.waitFor('[data-testid=session-row]', { timeout: 20000 });
    await shot(`${c.name}-05-sessions`);
    await d.clickCss('[data-testid=revoke-session]');
    const impact = await d.waitFor('[data-testid=revoke-impact]');
    assert(/1\s+live session/.test(await d.text(impact)), 'the impact is shown before confirming');
    await shot(`${c.name}-06-revoke-impact`);
    await d.clickCss('[data-testid=confirm-revoke]');
    await d.waitFor('p.notice', { pred: (t) => t.includes('revoked') });
    const after = await introspect({ issuer: c.issuer, clientId: w(c).clientId, clientSecret: w(c).clientSecret, token: w(c).tokens.access_token });
    assert(after.active === false, `inactive after the revoke (got ${JSON.stringify(after)})`);
    await shot(`${c.name}-07-revoked`);
  }],

  [`${c.name}: the inspector decodes a pasted "Authorization: Bearer" line of the revoked token as rejected, with why; an ID token is not introspectable`, async () => {
    await go('tokens');
    const input = await d.waitFor('[data-testid=token-input]');
    await d.fill(input, `Authorization: Bearer ${w(c).tokens.access_token}`);
    // No click: it is decoded as it is pasted. Only the final answer carries this reason.
    const why = await d.waitFor('[data-testid=verdict-reason][data-code=session_revoked]', { timeout: 30000 });
    assert(/revoked/.test(await d.text(why)), `the reason is in words: ${await d.text(why)}`);
    const verdict = await d.find('[data-testid=verdict]');
    assert((await d.attr(verdict, 'data-outcome')) === 'rejected', `one verdict, rejected: ${await d.text(verdict)}`);
    assert((await d.attr(verdict, 'data-valid')) === 'false', 'never valid while the server says inactive');
    const removed = await d.text(await d.find('[data-testid=removed]'));
    assert(removed.includes('Authorization:') && removed.includes('Bearer'), `says what it removed: ${removed}`);
    await shot(`${c.name}-07a-inspector-revoked`);
    assert(w(c).tokens.id_token, 'the sign-in returned an ID token');
    await d.fill(input, w(c).tokens.id_token);
    const id = await d.waitFor('[data-testid=verdict][data-outcome=not_introspectable]', { timeout: 30000 });
    assert(!(await d.text(id)).includes('inactive'), `an ID token is never called inactive: ${await d.text(id)}`);
    await shot(`${c.name}-07b-inspector-id-token`);
  }],

  [`${c.name}: rotating the keys moves the active key to retiring on the timeline`, async () => {
    await go('keys');
    await d.waitFor('[data-testid=key-row]');
    const states = () => d.exec(
      `return Object.fromEntries([...document.querySelectorAll('[data-testid=key-row]')].map((r) => [r.dataset.kid, r.dataset.state]));`,
    );
    const before = await states();
    const activeBefore = Object.keys(before).filter((k) => before[k] === 'active');
    const algOf = (kid) => kid.split('-')[0];
    assert(activeBefore.length >= 1, 'there are active keys');
    assert(new Set(activeBefore.map(algOf)).size === activeBefore.length, `exactly one active key per algorithm: ${activeBefore}`);
    await shot(`${c.name}-08-keys-before`);
    await d.clickCss('[data-testid=rotate-all]');
    await d.waitFor('[data-testid=keys-notice]');
    const after = await states();
    for (const k of activeBefore) assert(after[k] === 'retiring', `key ${k} is retiring after the rotation (is ${after[k]}; before ${JSON.stringify(before)}, after ${JSON.stringify(after)})`);
    assert(Object.values(after).filter((s) => s === 'active').length === activeBefore.length, 'each algorithm has a new active key');
    await shot(`${c.name}-09-keys-after`);
  }],

  [`${c.name}: Try it runs a machine client's client-credentials flow with DPoP and opens the bound token in the inspector`, async () => {
    await go('clients');
    await d.clickCss('[data-testid=new-client]');
    await d.clickCss('input[type=radio][value=machine]');
    await d.clickCss('[data-testid=wizard-next]');
    await d.fill(await d.waitFor('[data-testid=client-name]'), 'E2E batch job');
    await d.clickCss('[data-testid=wizard-create]');
    const secret = await d.text(await d.waitFor('[data-testid=secret-value]'));
    await closeSecret();
    const rowTry = await d.until(
      `const r = [...document.querySelectorAll('[data-testid=client-row]')].find((r) => r.textContent.includes('E2E batch job'));
       if (!r) return false; r.querySelector('[data-testid=try-client]').click(); return true;`,
      { what: 'the machine client in the table' },
    );
    assert(rowTry, 'the machine client has a Try it button');
    await d.fill(await d.waitFor('[data-testid=try-secret]'), secret);
    // Issue 15: the console holds a throwaway key for the run and binds the token to it.
    await d.clickCss('[data-testid=try-dpop-box]');
    await d.clickCss('[data-testid=try-run]');
    await d.waitFor('[data-testid=try-ok]', { timeout: 20000 });
    const bound = await d.text(await d.waitFor('[data-testid=try-dpop]'));
    const jkt = (bound.match(/thumbprint ([A-Za-z0-9_-]{43})/) || [])[1];
    assert(jkt && /DPoP/.test(bound), `the result names the key the token is bound to: ${bound}`);
    await shot(`${c.name}-11-try-it`);
    await d.clickCss('[data-testid=try-inspect]');
    const verdict = await d.waitFor('[data-testid=verdict]');
    assert((await d.attr(verdict, 'data-valid')) === 'true', `the tried token verifies: ${await d.text(verdict)}`);
    const page = await d.exec(`return document.querySelector('main')?.textContent ?? '';`);
    assert(page.includes(`thumbprint is ${jkt}`), 'the inspector says which key the token is bound to (cnf.jkt)');
    await shot(`${c.name}-12-try-it-inspected`);
  }],

  [`${c.name}: Disable shows what it cuts off before acting, the client's token then reads "client disabled", and Undo re-enables it`, async () => {
    const token = await d.exec(`return document.querySelector('[data-testid=token-input]').value;`);
    assert(token && token.split('.').length === 3, 'the tried token is in the inspector');
    await go('clients');
    await d.waitFor('[data-testid=client-row]');
    const opened = await d.exec(
      `const r = [...document.querySelectorAll('[data-testid=client-row]')].find((r) => r.textContent.includes('E2E batch job'));
       const b = r && r.querySelector('[data-testid=disable-client]'); if (!b) return false; b.click(); return true;`,
    );
    assert(opened, 'the machine client has a Disable button');
    const impact = await d.waitFor('[data-testid=client-impact]', { timeout: 20000 });
    assert(/live sessions?/.test(await d.text(impact)) && /live access tokens?/.test(await d.text(impact)), `the numbers come first: ${await d.text(impact)}`);
    const activity = await d.text(await d.waitFor('[data-testid=client-activity]'));
    assert(/Last token issued/.test(activity) && /tokens issued in the last hour/.test(activity), `last token and rate: ${activity}`);
    await shot(`${c.name}-13-disable-impact`);
    await d.clickCss('[data-testid=confirm-disable]');
    await d.waitFor('[data-testid=undo-disable]');
    const inspect = (t) => d.execAsync(
      `const done = arguments[arguments.length - 1];
       window.__TAURI_INTERNALS__.invoke('token_inspect', { token: ${JSON.stringify('Bearer ')} + arguments[0] }).then((v) => done(v), (e) => done({ error: e }));`,
      [t],
    );
    const off = await inspect(token);
    assert(off.outcome === 'rejected' && off.server?.inactive_reason?.code === 'client_disabled', `a token of a client disabled a second ago is rejected with why: ${JSON.stringify(off.server ?? off)}`);
    await shot(`${c.name}-14-disabled-undo`);
    await d.clickCss('[data-testid=undo-disable]');
    const end = Date.now() + 15000;
    while (!(await d.exec(
      `const r = [...document.querySelectorAll('[data-testid=client-row]')].find((r) => r.textContent.includes('E2E batch job'));
       return !!r && !!r.querySelector('.st-active');`,
    ))) {
      assert(Date.now() < end, 'the row reads enabled again after Undo');
      await new Promise((res) => setTimeout(res, 150));
    }
    const on = await inspect(token);
    assert(on.outcome === 'active', `Undo restores it: ${JSON.stringify(on.server ?? on)}`);
  }],

  [`${c.name}: the built-in console client is marked, offers neither Disable nor Delete, and the shell refuses both`, async () => {
    await go('clients');
    await d.waitFor('[data-testid=client-row]');
    const row = await d.exec(
      `const r = [...document.querySelectorAll('[data-testid=client-row]')].find((r) => r.textContent.includes('latchkey-console'));
       return r ? { builtin: !!r.querySelector('[data-testid=builtin]'), del: !!r.querySelector('[data-testid=delete-client]'), dis: !!r.querySelector('[data-testid=disable-client]') } : null;`,
    );
    assert(row, 'the console client is listed');
    assert(row.builtin && !row.del && !row.dis, `marked, no Disable/Delete: ${JSON.stringify(row)}`);
    const r = await d.execAsync(
      `const done = arguments[arguments.length - 1];
       const I = window.__TAURI_INTERNALS__;
       const code = (p) => p.then(() => 'allowed', (e) => e?.code ?? JSON.stringify(e));
       (async () => done({
         del: await code(I.invoke('client_delete', { id: 'latchkey-console' })),
         dis: await code(I.invoke('client_set_disabled', { id: 'latchkey-console', disabled: true })),
         scope: await code(I.invoke('scope_delete', { name: 'openid' })),
       }))();`,
    );
    assert(r.del === 'builtin' && r.dis === 'builtin' && r.scope === 'builtin', `refused with code builtin: ${JSON.stringify(r)}`);
    await shot(`${c.name}-15-builtin`);
  }],

  [`${c.name}: issue 13: a policy made on the Exchange page, a refusal explained by its rule, the exchange run, and its token inspected with the new audience`, async () => {
    // A fresh user token of the web app (its earlier session was revoked): the app is
    // both the subject token's client and the requester.
    const tokens = await signIn({
      issuer: c.issuer, clientId: w(c).clientId, clientSecret: w(c).clientSecret, redirectUri: w(c).redirectUri,
      username: c.username, password: c.password ?? world.embedded.adminPassword, scope: 'openid profile',
    });
    await go('exchange');
    await d.clickCss('[data-testid=policy-new]');
    await d.waitFor('[data-testid=policy-editor]');
    const pick = (css, value) => d.exec(
      `const e = document.querySelector(${JSON.stringify(css)}); e.value = ${JSON.stringify(value)};
       e.dispatchEvent(new Event('change', { bubbles: true })); return e.value;`,
    );
    assert((await pick('[data-testid=policy-requester]', w(c).clientId)) === w(c).clientId, 'the web app is offered as requester');
    await d.fill(await d.find('[data-testid=policy-targets]'), 'orders-api');
    await shot(`${c.name}-16-exchange-policy`);
    await d.clickCss('[data-testid=policy-save]');
    await waitGone('[data-testid=policy-editor]');
    const cell = await d.waitFor('[data-testid=exchange-matrix] td.allowed');
    assert((await d.text(cell)).includes('impersonation'), `the matrix shows the pair allowed: ${await d.text(cell)}`);

    // A target no policy names: refused, and the explain tool says which rule.
    assert((await pick('[data-testid=explain-requester]', w(c).clientId)) === w(c).clientId, 'requester picked');
    await d.fill(await d.find('[data-testid=explain-target]'), 'billing-api');
    await d.fill(await d.find('[data-testid=explain-subject]'), `Bearer ${tokens.access_token}`);
    await d.clickCss('[data-testid=explain-run]');
    const refused = await d.waitFor('[data-testid=explain-verdict]', { timeout: 20000 });
    const refusedText = await d.text(refused);
    assert(/Refused/.test(refusedText) && /invalid_target/.test(refusedText), `refused as invalid_target: ${refusedText}`);
    assert((await d.text(await d.find('[data-testid=explain-rule]'))).length > 0, 'the rule that refused is named');
    await shot(`${c.name}-17-exchange-refused`);

    // The policy's target: allowed; run it for real and inspect what came out.
    await d.fill(await d.find('[data-testid=explain-target]'), 'orders-api');
    await d.clickCss('[data-testid=explain-run]');
    await d.waitFor('[data-testid=explain-verdict]', { pred: (t) => t.includes('Allowed by policy'), timeout: 20000 });
    await d.fill(await d.waitFor('[data-testid=exchange-run-secret]'), w(c).clientSecret);
    await d.clickCss('[data-testid=exchange-run]');
    await d.waitFor('[data-testid=exchange-ran]', { timeout: 20000 });
    await shot(`${c.name}-18-exchange-ran`);
    await d.clickCss('[data-testid=exchange-inspect]');
    const verdict = await d.waitFor('[data-testid=verdict]', { timeout: 30000 });
    assert((await d.attr(verdict, 'data-valid')) === 'true', `the exchanged token verifies: ${await d.text(verdict)}`);
    const aud = await d.text(await d.find('[data-claim=aud]'));
    assert(aud.includes('orders-api'), `its audience is the target: ${aud}`);
    await shot(`${c.name}-19-exchange-inspected`);
  }],
];
const w = (c) => world[c.name];

const tests = [
  ['the console opens on the new store, shows the port and the admin password once', async () => {
    const port = await d.waitFor('[data-testid=port]', { timeout: 60000 });
    assert((await d.text(port)) === E2E_PORT, 'the UI shows the server port');
    const badge = await d.find('[data-testid=connection-badge]');
    assert((await d.attr(badge, 'data-kind')) === 'embedded', 'the badge says embedded');
    const secret = await d.waitFor('[data-testid=secret-value]');
    world.embedded.adminPassword = await d.text(secret);
    assert(world.embedded.adminPassword.length >= 20, 'a generated admin password is shown');
    await shot('embedded-01-first-start');
    // Issue 12 §2: Escape does not lose it.
    await d.keys(Keys.Escape);
    await d.waitFor('[data-testid=secret-esc-hint]');
    assert((await d.text(await d.find('[data-testid=secret-value]'))) === world.embedded.adminPassword, 'Escape left the password on screen');
    await closeSecret();
    const again = await d.execAsync(
      `const done = arguments[arguments.length - 1];
       window.__TAURI_INTERNALS__.invoke('first_admin_password_take').then((v) => done(v), (e) => done('error:' + JSON.stringify(e)));`,
    );
    assert(again === null, `the password is not handed out a second time (got ${JSON.stringify(again)})`);
  }],

  ['issue 12: the store gets realistic data through the console\'s own commands: 16 clients of four kinds, 31 users with long names', async () => {
    // Names that no later step looks for (no "E2E", no "adm"); usernames after "admin"
    // in the alphabet, so the administrator's row stays first. Secrets stay in the webview.
    const r = await d.execAsync(
      `const done = arguments[arguments.length - 1];
       const I = window.__TAURI_INTERNALS__;
       const kinds = {
         web: { client_type: 'confidential', auth_method: 'client_secret_basic', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['https://portal.example.org/oidc/callback'] },
         spa: { client_type: 'public', auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['https://spa.example.org/callback'] },
         native: { client_type: 'public', auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['http://127.0.0.1/callback'] },
         machine: { client_type: 'confidential', auth_method: 'client_secret_basic', grant_types: ['client_credentials'], redirect_uris: [] },
       };
       const places = ['Northwind', 'Contoso', 'Fabrikam', 'Tailspin'];
       const given = ['Bartholomew', 'Konstantina', 'Maximiliane', 'Oluwaseun', 'Przemysław', 'Siobhán', 'Thandiwe', 'Wilhelmina'];
       const family = ['Featherstonehaugh', 'Ó Súilleabháin', 'Vanderhoeven-Lopez', 'Nakamura-Thompson'];
       (async () => {
         let clients = 0, users = 0;
         for (const [kind, req] of Object.entries(kinds)) for (const p of places) {
           await I.invoke('client_create', { req: { ...req, name: p + ' ' + { web: 'customer portal', spa: 'dashboard', native: 'field app', machine: 'nightly billing export' }[kind] } });
           clients++;
         }
         for (let i = 0; i < 31; i++) {
           const g = given[i % given.length], f = family[i % family.length];
           const username = ('p' + String(i).padStart(2, '0') + '.' + g + '.' + f).toLowerCase().replace(/[^a-z0-9.]/g, '');
           await I.invoke('user_create', { req: { username, name: g + ' ' + String.fromCharCode(65 + (i % 26)) + '. ' + f, email: username + '@long-subsidiary-name.example.org',
             password: 'Correct-Horse-' + i + '-Battery-Staple', is_admin: false } });
           users++;
         }
         done({ clients, users });
       })().catch((e) => done({ error: typeof e === 'string' ? e : JSON.stringify(e) }));`,
    );
    assert(!r.error, `provisioned: ${r.error}`);
    assert(r.clients === 16 && r.users === 31, `16 clients and 31 users (${JSON.stringify(r)})`);
  }],

  ...story(local),

  ['issue 12: the six daily tasks each take at most six clicks through the real window', async () => {
    // A fresh sign-in of the web app: a live session and a token to work with.
    const tokens = await signIn({
      issuer: local.issuer, clientId: world.embedded.clientId, clientSecret: world.embedded.clientSecret,
      redirectUri: world.embedded.redirectUri, username: local.username, password: world.embedded.adminPassword,
    });
    await go('dashboard');

    await task('register a client (secret copied, dialog closed)', 6, async (c) => {
      await c.css('#nav-clients');
      await c.css('[data-testid=new-client]');
      await c.css('[data-testid=wizard-next]');
      await d.fill(await d.waitFor('[data-testid=client-name]'), 'E2E daily');
      await d.fill(await d.find('[data-testid=client-redirects]'), 'http://127.0.0.1:9/daily');
      await c.css('[data-testid=wizard-create]');
      await d.waitFor('[data-testid=secret-value]');
      await closeSecretCounted(c);
    });
    // Results are visible: the id, issuer, discovery URL and a snippet, and the row marked.
    const created = await d.exec(
      `const t = (s) => document.querySelector(s)?.textContent;
       return { id: t('[data-testid=setup-client-id]'), issuer: t('[data-testid=setup-issuer]'), disc: t('[data-testid=setup-discovery]'),
                snippet: t('[data-testid=setup-snippet]'), fresh: [...document.querySelectorAll('tr.fresh [data-testid=client-name-link]')].map((b) => b.textContent) };`,
    );
    assert(created.issuer === local.issuer && created.disc === `${local.issuer}/.well-known/openid-configuration`, `issuer and discovery shown: ${JSON.stringify(created)}`);
    assert(created.snippet.includes(`OIDC_CLIENT_ID=${created.id}`) && !/OIDC_CLIENT_SECRET=\S/.test(created.snippet), 'a snippet with the id, never the secret');
    assert(created.fresh.length === 1 && created.fresh[0] === 'E2E daily', `the new row is highlighted (${created.fresh})`);
    await shot('embedded-daily-1-registered');

    await task('rotate a secret (new secret copied, dialog closed)', 6, async (c) => {
      await c.css('#nav-clients');
      await c.script(rowOf('E2E web app', '[data-testid=client-name-link]'));
      await d.waitFor('[data-testid=client-title]', { pred: (t) => t === 'E2E web app' });
      await c.css('[data-testid=detail-rotate]');
      await c.css('[data-testid=confirm-rotate]');
      const secret = await d.text(await d.waitFor('[data-testid=secret-value]'));
      assert(secret !== world.embedded.clientSecret, 'a new secret');
      const id = await d.exec(`return document.querySelector('[data-testid=secret-dialog] [data-field=client_id]')?.textContent;`);
      assert(id === world.embedded.clientId, 'shown with its client id');
      await closeSecretCounted(c);
    });
    // The client page: settings, credentials, sessions (the sign-in above), activity.
    const page = await d.exec(
      `return { sessions: document.querySelectorAll('[data-testid=client-session]').length,
                events: [...document.querySelectorAll('[data-testid=client-event] code')].map((e) => e.textContent) };`,
    );
    assert(page.sessions >= 1, `the client's live sessions are on its page (${page.sessions})`);
    await d.until(`return [...document.querySelectorAll('[data-testid=client-event] code')].some((e) => e.textContent === 'client.rotate_secret');`,
      { what: 'the rotation in the recent activity' });
    await shot('embedded-daily-2-client-page');
    const bad = await axe();
    assert(bad.length === 0, `axe on the client page: ${JSON.stringify(bad)}`);

    await task('inspect a token (pasted, names for its ids)', 6, async (c) => {
      await c.css('#nav-tokens');
      await d.fill(await d.waitFor('[data-testid=token-input]'), `Bearer ${tokens.access_token}`);
      await d.waitFor('[data-testid=verdict][data-outcome=active]', { timeout: 30000 });
      const sub = await d.waitFor('[data-claim=sub] [data-testid=claim-name]', { timeout: 10000 });
      assert((await d.text(sub)) === local.username, `sub reads as the user's name: ${await d.text(sub)}`);
      const cid = await d.text(await d.waitFor('[data-claim=client_id] [data-testid=claim-name]'));
      assert(cid === 'E2E web app', `client_id reads as the client's name: ${cid}`);
      await d.waitFor('[data-claim=sid] [data-testid=claim-name]', { pred: (t) => t.includes('E2E web app'), timeout: 10000 });
    });
    await shot('embedded-daily-3-inspect');

    await task("revoke a user's sessions", 6, async (c) => {
      await c.css('#nav-users');
      await c.script(`return [...document.querySelectorAll('[data-testid=user-row]')].find((r) => r.textContent.includes(${JSON.stringify(local.username)}))?.querySelector('[data-testid=user-sessions]') ?? null;`);
      await d.waitFor('[data-testid=session-row]', { timeout: 20000 });
      await c.script(`return [...document.querySelectorAll('[data-testid=session-row] button')].find((b) => (b.getAttribute('aria-label') ?? '').startsWith('User: revoke every session of ${local.username}')) ?? null;`);
      await d.waitFor('[data-testid=revoke-impact]');
      await c.css('[data-testid=confirm-revoke]');
      await d.waitFor('p.notice', { pred: (t) => t.includes('revoked') });
    });
    const after = await introspect({ issuer: local.issuer, clientId: world.embedded.clientId, clientSecret: world.embedded.clientSecret, token: tokens.access_token });
    assert(after.active === false, "the user's token is inactive after the revoke");

    await task('find what changed yesterday, then today and its changes', 6, async (c) => {
      await c.css('#nav-audit');
      await c.css('[data-testid=period-yesterday]');
      await d.until(`return document.querySelector('[data-testid=period-yesterday]')?.getAttribute('aria-pressed') === 'true' && !document.querySelector('main .busy');`, { what: 'yesterday loaded' });
      // This store was made today: yesterday holds nothing, and says so (no row of today).
      await d.until(`return !!document.querySelector('main .empty') || document.querySelectorAll('[data-testid=audit-row]').length === 0;`, { what: 'an empty yesterday' });
      await c.css('[data-testid=period-today]');
      await d.waitFor('[data-testid=audit-row]');
      await c.script(`return document.querySelector('[data-testid=audit-row] button[aria-expanded]');`);
      await d.waitFor('[data-testid=diff-line]');
    });
    await shot('embedded-daily-5-audit');
    // Every target links to its object: a client target opens that client's page.
    await d.click(await byScript(`return [...document.querySelectorAll('[data-testid=audit-target][data-kind=client]')].find((b) => b.textContent === 'E2E web app') ?? null;`));
    await d.waitFor('[data-testid=client-title]', { pred: (t) => t === 'E2E web app' });

    await task('disable a client (after its dry run)', 6, async (c) => {
      await c.css('#nav-clients');
      await c.script(rowOf('E2E daily', '[data-testid=client-menu]'));
      await c.script(rowOf('E2E daily', '[data-testid=disable-client]'));
      await d.waitFor('[data-testid=client-impact]', { timeout: 20000 });
      await c.css('[data-testid=confirm-disable]');
      await d.waitFor('[data-testid=undo-disable]');
    });
    await shot('embedded-daily-6-disabled');
    console.log(`  daily tasks: ${dailyCounts.join('; ')}`);
  }],

  ['issue 12: results are visible — a Dashboard card drills down, one key rotation is one audit row read key by key, the JWKS opens in a drawer, the timeline has dates and the next rotation, the sidebar folds', async () => {
    await go('dashboard');
    await d.clickCss('[data-testid=card-failed]');
    await d.waitFor('#nav-audit[aria-current=page]');
    await d.until(`return document.querySelector('[data-testid=period-hour]')?.getAttribute('aria-pressed') === 'true' && !document.querySelector('main .busy');`, { what: 'the last hour of security events' });
    assert(await d.exec(`return [...document.querySelectorAll('main input[type=checkbox]')].find((b) => b.closest('label')?.textContent.includes('Security events only'))?.checked === true;`),
      'the failed-authentications card opens the security events only');
    await shot('embedded-30-dashboard-drilldown');

    // "Rotate all now" (the story above) is one row, its keys' states before → after.
    await d.click(await byScript(`return [...document.querySelectorAll('main input[type=checkbox]')].find((b) => b.closest('label')?.textContent.includes('Security events only')) ?? null;`));
    await d.clickCss('[data-testid=period-today]');
    const steps = await d.until(
      `const r = [...document.querySelectorAll('[data-testid=audit-row]')].find((r) => r.querySelector('[data-testid=audit-steps]'));
       if (!r) return null; r.querySelector('button[aria-expanded]')?.click(); return r.querySelector('[data-testid=audit-steps]').textContent;`,
      { what: 'the rotation as one row' },
    );
    assert(/^in \d+ steps$/.test(steps), `one row for the rotation (${steps})`);
    const lines = await d.until(
      `const l = [...document.querySelectorAll('[data-testid=diff-line]')].map((l) => l.textContent); return l.length ? l : null;`,
      { what: 'its key changes' },
    );
    assert(lines.some((l) => l.includes('active') && l.includes('retiring')) && !lines.some((l) => l.includes('"changes"')),
      `key states, not JSON: ${JSON.stringify(lines.slice(0, 4))}`);
    await shot('embedded-31-audit-rotation');

    await go('keys');
    await d.waitFor('[data-testid=key-row]');
    const axis = await d.exec(`return [...document.querySelectorAll('[data-testid=key-axis]')].map((a) => [...a.querySelectorAll('span')].map((s) => s.textContent));`);
    assert(axis.length >= 3 && axis.every((a) => a.length === 5 && a.every((t) => /\d/.test(t))), `each lane has a date axis: ${JSON.stringify(axis[0])}`);
    const next = await d.exec(`return [...document.querySelectorAll('[data-testid=next-rotation]')].map((e) => e.textContent);`);
    assert(next.length >= 3 && next.every((t) => t.includes('next rotation')), `each lane names its next rotation: ${JSON.stringify(next)}`);
    await d.clickCss('[data-testid=jwks-open]');
    const drawer = await d.exec(
      `const r = document.querySelector('[data-testid=jwks-drawer]')?.getBoundingClientRect();
       const j = JSON.parse(document.querySelector('[data-testid=jwks-json]')?.textContent ?? 'null');
       return r ? { right: Math.round(r.right), w: window.innerWidth, h: Math.round(r.height), ih: window.innerHeight, keys: j?.keys?.length ?? 0 } : null;`,
    );
    assert(drawer && Math.abs(drawer.right - drawer.w) <= 2 && drawer.h >= drawer.ih - 2, `the JWKS is a drawer on the right, full height (${JSON.stringify(drawer)})`);
    assert(drawer.keys >= 3, `it lists the published keys (${drawer.keys})`);
    await shot('embedded-32-jwks-drawer');
    await d.exec('document.activeElement?.blur(); return 1;');
    await d.keys(Keys.Escape);
    await waitGone('[data-testid=jwks-drawer]');

    const width = () => d.exec(`return Math.round(document.querySelector('nav.side').getBoundingClientRect().width);`);
    const wideSide = await width();
    await d.clickCss('[data-testid=sidebar-toggle]');
    await d.until(`return document.querySelector('nav.side').getBoundingClientRect().width < ${wideSide} - 40;`, { what: 'a narrow sidebar' });
    await shot('embedded-33-sidebar-narrow');
    await d.clickCss('[data-testid=sidebar-toggle]');
    await d.until(`return Math.round(document.querySelector('nav.side').getBoundingClientRect().width) === ${wideSide};`, { what: 'the sidebar wide again' });
  }],

  ['the shell refuses a command not granted, navigation elsewhere and reading stored credentials', async () => {
    const r = await d.execAsync(
      `const done = arguments[arguments.length - 1];
       const I = window.__TAURI_INTERNALS__;
       const attempt = (cmd, args) => I.invoke(cmd, args).then(() => 'allowed', (e) => 'refused: ' + (typeof e === 'string' ? e : JSON.stringify(e)));
       (async () => {
         const out = {};
         out.shell = await attempt('plugin:shell|execute', { program: 'sh', args: ['-c', 'id'] });
         out.fs = await attempt('plugin:fs|read_text_file', { path: '/etc/passwd' });
         out.devtools = await attempt('plugin:webview|internal_toggle_devtools', {});
         out.unknown = await attempt('eval_js', { script: '1' });
         out.isolation = await attempt('connection_add', { req: { name: 'x', colour: 'red', kind: 'remote', server: 'http://evil.example', auth: 'api_key', api_key: 'lk_x' } });
         out.pattern = window.__TAURI_INTERNALS__.__TAURI_PATTERN__?.pattern;
         out.password = await I.invoke('first_admin_password_take');
         out.client = await I.invoke('client_get', { id: ${JSON.stringify(world.embedded.clientId)} });
         out.clients = await I.invoke('clients_list');
         out.globalTauri = typeof window.__TAURI__;
         out.storage = JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie;
         done(out);
       })().catch((e) => done({ crashed: String(e) }));`,
    );
    assert(!r.crashed, `script ran: ${r.crashed}`);
    for (const k of ['shell', 'fs', 'devtools', 'unknown']) assert(r[k].startsWith('refused'), `${k} must be refused, got ${r[k]}`);
    assert(r.pattern === 'isolation', `IPC runs through the isolation pattern (is ${r.pattern})`);
    assert(r.isolation.includes('refused_by_isolation'), `the isolation hook stops a credential bound for plain http: ${r.isolation}`);
    assert(r.password === null, 'the admin password cannot be read again');
    assert(r.globalTauri === 'undefined', 'no global Tauri object');
    const visible = JSON.stringify([r.client, r.clients, r.storage]);
    assert(!visible.includes(world.embedded.clientSecret), 'the client secret cannot be read back');
    assert(!visible.includes(world.embedded.adminPassword), 'the admin password is nowhere in the webview');
    assert(!('client_secret' in r.client), 'client_get has no secret field');

    // Navigation away from the app is refused, window.open too.
    const handles = (await d.windowHandles()).length;
    await d.exec(`window.location.href = 'https://example.com/'; return 1;`).catch(() => {});
    await new Promise((res) => setTimeout(res, 1500));
    const url = await d.url();
    assert(url.startsWith('tauri://localhost'), `still on the app after a foreign navigation (at ${url})`);
    await d.exec(`window.open('https://example.com/'); return 1;`).catch(() => {});
    await new Promise((res) => setTimeout(res, 800));
    assert((await d.windowHandles()).length === handles, 'window.open opened no new window');
    await d.waitFor('#nav-dashboard');
    await shot('embedded-10-security');
  }],

  ['issue 12 §5: the window never scrolls; the isolation frame is out of the flow, named and no Tab stop', async () => {
    // A page with a table (the sessions of this store are revoked by now).
    await go('clients');
    await d.waitFor('[data-testid=client-row]', { timeout: 20000 });
    const f = await d.exec(
      `const f = document.getElementById('__tauri_isolation__');
       if (!f) return null;
       const r = f.getBoundingClientRect(), cs = getComputedStyle(f);
       return { title: f.getAttribute('title'), tabindex: f.getAttribute('tabindex'), hidden: f.getAttribute('aria-hidden'),
                position: cs.position, w: r.width, h: r.height,
                scrollH: document.scrollingElement.scrollHeight, innerH: window.innerHeight };`,
    );
    assert(f, 'the isolation frame is there (IPC runs through it)');
    assert(f.title && /isolation/i.test(f.title), `the frame has a title (${f.title})`);
    assert(f.tabindex === '-1' && f.hidden === 'true', `the frame is no Tab stop and hidden from assistive tech (${f.tabindex}, ${f.hidden})`);
    assert(f.position === 'fixed' && f.w === 0 && f.h === 0, `the frame is out of the flow (${f.position} ${f.w}x${f.h})`);
    assert(f.scrollH <= f.innerH, `the document is no taller than the window (${f.scrollH} > ${f.innerH})`);
    // A real wheel over the sidebar, then a scripted scroll of the document: neither moves it.
    const [x, y] = await d.exec(
      `const r = document.querySelector('nav.side').getBoundingClientRect(); return [Math.round(r.left + r.width / 2), Math.round(r.bottom - 30)];`,
    );
    let wheel = 'sent';
    await d.wheel(x, y, 900).catch((e) => { wheel = `not supported by the driver (${e.message})`; });
    await sleep(300);
    await d.exec('window.scrollBy(0, 1000); document.scrollingElement.scrollTop = 1000; return 1;');
    await sleep(100);
    const after = await d.exec(
      `const b = document.querySelector('[data-testid=connection-badge]').getBoundingClientRect();
       return { y: window.scrollY, top: document.scrollingElement.scrollTop, badgeTop: b.top, badgeBottom: b.bottom, innerH: window.innerHeight };`,
    );
    assert(after.y === 0 && after.top === 0, `the document did not scroll (wheel ${wheel}; scrollY ${after.y})`);
    assert(after.badgeTop >= 0 && after.badgeBottom <= after.innerH, 'the connection badge is on screen');
    if (wheel !== 'sent') console.log(`  note: wheel ${wheel}`);
    // Tab from the last control of the console never lands on the frame.
    await d.exec(
      `const all = [...document.querySelectorAll('#app button, #app input, #app select, #app textarea, #app [href], #app [tabindex]:not([tabindex="-1"])')]
         .filter((e) => !e.disabled && e.offsetParent !== null);
       all.at(-1).focus(); return all.length;`,
    );
    await d.keys(Keys.Tab);
    const f2 = await focused();
    assert(f2?.tag !== 'IFRAME', `Tab does not stop on the isolation frame (${JSON.stringify(f2)})`);
    await shot('embedded-13-no-scroll');
  }],

  ['issue 12 §7: each wizard step focuses its first field; Escape closes the dialog from anywhere; Cancel gives focus back', async () => {
    await go('clients');
    await d.clickCss('[data-testid=new-client]');
    await d.waitFor('[data-testid=wizard-step][data-step="1"]');
    let f = await focused();
    assert(f?.tag === 'INPUT' && f.value === 'web', `step 1 starts on the picked kind (${JSON.stringify(f)})`);
    await d.clickCss('input[type=radio][value=machine]');
    await d.clickCss('[data-testid=wizard-next]');
    await d.waitFor('[data-testid=wizard-step][data-step="2"]');
    await sleep(150);
    f = await focused();
    assert(f?.testid === 'client-name', `step 2 starts on the name (${JSON.stringify(f)})`);
    // Focus on the page behind (a click on the backdrop), then Escape.
    await d.exec('document.activeElement?.blur(); return 1;');
    await d.keys(Keys.Escape);
    await waitGone('[role=dialog]');
    f = await focused();
    assert(f?.testid === 'new-client', `Escape closed the wizard and focus went back to its opener (${JSON.stringify(f)})`);
    await d.clickCss('[data-testid=new-client]');
    await d.clickCss('[data-testid=wizard-next]');
    await d.clickCss('[data-testid=wizard-step][data-step="2"] [data-testid=wizard-cancel]');
    await waitGone('[role=dialog]');
    f = await focused();
    assert(f?.testid === 'new-client', `after Cancel focus is on the opener, not the body (${JSON.stringify(f)})`);
  }],

  ['issue 12 §8: an unsaved server setting brings up a sticky save bar, and leaving the page asks', async () => {
    await go('settings');
    const input = await d.waitFor('#setting-code_ttl');
    await d.fill(input, '2');
    await d.waitFor('[data-testid=settings-unsaved]', { pred: (t) => t === '1 unsaved change' });
    const bar = await d.exec(
      `const b = document.querySelector('[data-testid=settings-savebar]'); const r = b.getBoundingClientRect();
       return { sticky: getComputedStyle(b).position, top: r.top, bottom: r.bottom, innerH: window.innerHeight };`,
    );
    assert(bar.sticky === 'sticky' && bar.top >= 0 && bar.bottom <= bar.innerH + 1, `the save bar is in view (${JSON.stringify(bar)})`);
    await shot('embedded-14-settings-unsaved');
    await d.clickCss('#nav-keys');
    await d.waitFor('[data-testid=leave-dialog]');
    await shot('embedded-15-settings-leave');
    await d.clickCss('[data-testid=leave-stay]');
    await waitGone('[data-testid=leave-dialog]');
    assert(await d.exec(`return document.querySelector('#nav-settings').getAttribute('aria-current') === 'page' && document.querySelector('#setting-code_ttl').value === '2';`),
      'Stay keeps the page and the edit');
    await d.clickCss('#nav-keys');
    await d.clickCss('[data-testid=leave-discard]');
    await d.waitFor('[data-testid=key-row]');
    assert(await d.exec(`return document.querySelector('#nav-keys').getAttribute('aria-current') === 'page';`), 'Discard leaves');
  }],

  ['issue 12 §6: switching away from a store apps are signed in to asks; a typo path is asked about, not created; new connections get their own colour', async () => {
    // An app signs in: a live session on this store.
    await signIn({
      issuer: local.issuer, clientId: world.embedded.clientId, clientSecret: world.embedded.clientSecret,
      redirectUri: world.embedded.redirectUri, username: local.username, password: world.embedded.adminPassword,
    });
    await d.clickCss('[data-testid=connection-badge]');
    await d.clickCss('[data-testid=add-connection]');
    const used = await d.execAsync(
      `const done = arguments[arguments.length - 1];
       window.__TAURI_INTERNALS__.invoke('connections_list').then((v) => done(v.map((c) => c.colour)), (e) => done('error:' + JSON.stringify(e)));`,
    );
    const picked = await d.exec(`return document.querySelector('input[name=colour]:checked')?.value;`);
    assert(Array.isArray(used) && picked && !used.includes(picked), `the new connection's colour (${picked}) is none of ${JSON.stringify(used)}`);
    await d.clickCss('input[type=radio][name=kind][value=embedded]');
    assert(!(await d.exec(`return [...document.querySelectorAll('form[aria-label="Add a connection"] input[type=checkbox]')].some((b) => b.checked);`)),
      'nothing is pre-checked');
    const typo = join(dirname(E2E_DB), `e2e-tpyo-${Date.now()}.db`);
    await d.fill(await d.find('[data-testid=conn-name]'), 'Typo');
    await d.fill(await d.find('[data-testid=conn-path]'), typo);
    await d.clickCss('[data-testid=conn-connect]');
    const impact = await d.text(await d.waitFor('[data-testid=conn-leave-impact]'));
    const n = Number(impact.match(/(\d+)\s+live sessions?/)?.[1] ?? 0);
    assert(n >= 1, `the live sessions of this store are counted before switching (${impact})`);
    await sleep(200); // the screenshot can lag a frame behind the DOM
    await shot('embedded-16-leave-store');
    await d.clickCss('[data-testid=conn-leave-confirm]');
    const ask = await d.text(await d.waitFor('[data-testid=conn-create-ask]', { timeout: 15000 }));
    assert(ask.includes(typo), `the missing file is named (${ask})`);
    await shot('embedded-17-create-ask');
    await d.click(await topDialogButton('Cancel'));
    await waitGone('[data-testid=conn-create-ask]');
    assert(!existsSync(typo), 'no file was created');
    const st = await d.exec(
      `const b = document.querySelector('[data-testid=connection-badge]');
       return { kind: b.dataset.kind, port: document.querySelector('[data-testid=port]')?.textContent, active: document.activeElement?.dataset?.testid };`,
    );
    assert(st.kind === 'embedded' && st.port === E2E_PORT, `still on the first store (${JSON.stringify(st)})`);
    assert(st.active === 'conn-path', `Cancel went back to the path (${st.active})`);
    // Escape closes the switcher too, with focus anywhere.
    await d.exec('document.activeElement?.blur(); return 1;');
    await d.keys(Keys.Escape);
    await waitGone('[data-testid=add-connection], form[aria-label="Add a connection"]');
  }],

  ['issue 14: a spray from one address raises a finding on the Security page; blocked from there, its next sign-in is refused; unblocked, it works', async () => {
    const SPRAYER = '127.0.0.9';
    const invoke = (cmd, args) => d.execAsync(
      `const done = arguments[arguments.length - 1];
       window.__TAURI_INTERNALS__.invoke(${JSON.stringify(cmd)}, ${JSON.stringify(args)}).then((v) => done(v), (e) => done({ error: e }));`,
    );
    // Three names are a spray here (the default is ten): fewer than the login limiter's
    // ten failures per address, so what refuses later can only be the block.
    await go('settings');
    await d.fill(await d.waitFor('#setting-detect_spray_usernames'), '3');
    await d.clickCss('[data-testid=settings-save]');
    await waitGone('[data-testid=settings-unsaved]');
    // The detections run off the request path: spray until the finding is there (the
    // setting reaches the server within a second), at most seven names.
    let finding = null;
    for (let i = 1; i <= 7 && !finding; i++) {
      const r = await formSignIn({ issuer: local.issuer, from: SPRAYER, username: `sprayed-${i}`, password: 'Winter2026!' });
      assert(r === 'wrong', `a wrong password from the sprayer is the form again (${r})`);
      if (i < 3) continue;
      for (let t = 0; t < 10 && !finding; t++) {
        const list = await invoke('findings_list', { filter: { rule: 'spray' } });
        finding = Array.isArray(list) ? list.find((f) => f.subject === `${SPRAYER}/32`) : null;
        if (!finding) await sleep(200);
      }
    }
    assert(finding, 'the spray raised a finding');
    await go('security');
    const row = `[data-testid=finding-row][data-rule=spray][data-subject="${SPRAYER}/32"]`;
    await d.waitFor(row, { timeout: 15000 });
    await shot('embedded-20-security-finding');
    await d.click(await byScript(`return document.querySelector('${row} [data-testid=finding-subject]');`));
    const failures = await d.waitFor('[data-testid=profile-failures]', { timeout: 10000 });
    assert(Number(await d.text(failures)) >= 3, `the drill-down counts the failures (${await d.text(failures)})`);
    await d.clickCss('[data-testid=respond-block]');
    await d.clickCss('[data-testid=confirm-block]');
    await d.waitFor(`[data-testid=block-row][data-address="${SPRAYER}/32"]`, { timeout: 10000 });
    await shot('embedded-21-security-blocked');
    // Every node re-reads its block list within a second: probe the token endpoint
    // (no sign-in failure counted) until it refuses, then sign in with the right password.
    const tokenStatus = () => new Promise((resolve, reject) => {
      import('node:http').then(({ request }) => {
        const u = new URL('/token', local.issuer);
        const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', localAddress: SPRAYER,
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': 0 } }, (res) => { res.resume(); resolve(res.statusCode); });
        req.on('error', reject);
        req.end();
      }, reject);
    });
    const until = async (want) => {
      for (let t = 0; t < 40; t++) {
        if (want(await tokenStatus())) return true;
        await sleep(100);
      }
      return false;
    };
    assert(await until((s) => s === 429), 'the token endpoint refuses the blocked address');
    const admin = { issuer: local.issuer, username: local.username, password: world.embedded.adminPassword };
    assert((await formSignIn({ ...admin, from: SPRAYER })) === 'refused', 'the right password from the blocked address is refused');
    assert((await formSignIn({ ...admin, from: '127.0.0.10' })) === 'signed in', 'another address is not blocked');
    await d.clickCss(`[data-testid=block-row][data-address="${SPRAYER}/32"] [data-testid=unblock]`);
    await d.clickCss('[data-testid=confirm-unblock]');
    await waitGone(`[data-testid=block-row][data-address="${SPRAYER}/32"]`);
    assert(await until((s) => s !== 429), 'the token endpoint lets the address in again');
    assert((await formSignIn({ ...admin, from: SPRAYER })) === 'signed in', 'unblocked, the same sign-in works');
    // A success from a spraying address during the episode is critical (about the account).
    let critical = null;
    for (let t = 0; t < 20 && !critical; t++) {
      const list = await invoke('findings_list', { filter: { rule: 'spray_success' } });
      critical = Array.isArray(list) ? list.find((f) => f.subject === local.username && f.evidence?.network === `${SPRAYER}/32`) : null;
      if (!critical) await sleep(200);
    }
    assert(critical?.severity === 'critical', `the success during the spray is a critical finding (${JSON.stringify(critical)})`);
    await go('dashboard');
    const dash = await d.waitFor('[data-testid=dash-findings-critical]', { timeout: 15000 });
    await shot('embedded-22-dashboard-findings');
    await d.click(dash);
    await d.waitFor(`[data-testid=finding-row][data-rule=spray_success]`, { timeout: 10000 });
  }],

  ['issue 12 §4: the Sessions filters are typeahead: a part of a name picks the user, a name that matches nobody is an empty table with a suggestion', async () => {
    await go('sessions');
    await d.waitFor('[data-testid=session-row]', { timeout: 20000 });
    await d.fill(await d.find('[data-testid=filter-user]'), local.username.slice(0, 3));
    await d.until(`return document.querySelectorAll('[data-testid=session-row]').length > 0 && !!document.querySelector('[data-testid=filter-user]') && !document.querySelector('[data-testid=filter-user-none], [data-testid=filter-user-many]');`,
      { timeout: 10000, what: 'sessions of the one user whose name starts so' });
    await d.fill(await d.find('[data-testid=filter-user]'), `${local.username}x`);
    const none = await d.waitFor('[data-testid=filter-user-none]', { timeout: 10000 });
    assert((await d.text(none)).includes(`No user matches “${local.username}x”`), await d.text(none));
    assert(await d.exec(`return document.querySelectorAll('[data-testid=session-row]').length === 0 && !document.querySelector('[role=alert]');`),
      'no rows and no error banner: never the unfiltered list');
    await shot('embedded-23-sessions-no-match');
    await d.click(await byScript(`return [...document.querySelectorAll('[data-testid=filter-user-none] button')].find((b) => b.textContent === ${JSON.stringify(local.username)});`));
    await d.waitFor('[data-testid=session-row]', { timeout: 10000 });
    assert(await d.exec(`return document.querySelector('[data-testid=filter-user]').value;`) === local.username, 'the suggestion became the filter');
  }],

  ['issue 12 §9: axe finds nothing serious or critical on any page (and a client page), light or dark, at 1280×820 or 1024×700; no page is wider than the window', async () => {
    const found = [];
    // Tables that fit (issue 12): nothing in the page, nor inside a table's own scroller,
    // is wider than the space it has.
    const wide = [];
    const fits = async (where) => {
      const over = await d.exec(
        `const m = document.querySelector('main');
         return [m, ...m.querySelectorAll('.scroll')].filter((e) => e.scrollWidth > e.clientWidth + 1)
           .map((e) => (e === m ? 'main' : '.scroll') + ' ' + e.scrollWidth + ' > ' + e.clientWidth);`,
      );
      for (const o of over) wide.push(`${where}: ${o}`);
    };
    const pages = await d.exec(`return [...document.querySelectorAll('nav.side button[id^=nav-]')].map((b) => b.id.slice(4));`);
    assert(pages.length >= 11, `every page is in the navigation (${pages})`);
    for (const [width, height] of [[1280, 820], [1024, 700]]) {
      await d.setSize(width, height);
      for (const theme of ['light', 'dark']) {
        await d.exec(`localStorage.setItem('latchkey.theme', '${theme}'); document.documentElement.dataset.theme = '${theme}'; return 1;`);
        for (const p of pages) {
          await go(p);
          await d.until(`return document.querySelector('#nav-${p}')?.getAttribute('aria-current') === 'page' && !document.querySelector('main .busy');`, { timeout: 15000, what: `${p} loaded` });
          const bad = await axe();
          for (const v of bad) found.push(`${width}×${height} ${theme} ${p}: ${v.id} (${v.impact}) ${v.help} — ${v.nodes.join(' | ')}`);
          await fits(`${width}×${height} ${p}`);
          await shot(`page-${width}x${height}-${theme}-${p}`);
        }
        // A client's own page is a page too (it opens from the Clients table).
        await go('clients');
        await d.waitFor('[data-testid=client-row]', { timeout: 20000 });
        await d.click(await byScript(rowOf('E2E web app', '[data-testid=client-name-link]')));
        await d.waitFor('[data-testid=client-title]', { pred: (t) => t === 'E2E web app' });
        await d.until(`return !document.querySelector('main .busy');`, { timeout: 15000, what: 'the client page loaded' });
        for (const v of await axe()) found.push(`${width}×${height} ${theme} client page: ${v.id} (${v.impact}) ${v.help} — ${v.nodes.join(' | ')}`);
        await fits(`${width}×${height} client page`);
        await shot(`page-${width}x${height}-${theme}-client`);
      }
    }
    await d.exec(`localStorage.removeItem('latchkey.theme'); document.documentElement.dataset.theme = 'light'; return 1;`);
    await d.setSize(1280, 820);
    assert(found.length === 0, `axe violations:\n    ${found.join('\n    ')}`);
    assert(wide.length === 0, `wider than the window:\n    ${wide.join('\n    ')}`);
  }],

  ['switching to a remote server with an API key puts its name and colour on screen', async () => {
    await d.clickCss('[data-testid=connection-badge]');
    await d.clickCss('[data-testid=add-connection]');
    await d.fill(await d.waitFor('[data-testid=conn-name]'), 'Remote E2E');
    await d.clickCss('[data-testid=colour-red]');
    await d.fill(await d.find('[data-testid=conn-server]'), E2E_REMOTE_ADMIN);
    await d.fill(await d.find('[data-testid=conn-key]'), 'lk_not-the-key');
    await d.clickCss('[data-testid=conn-connect]');
    await confirmLeaving();
    const err = await d.waitFor('[role=alert]', { pred: (t) => t.includes('unauthorized') });
    assert(err, 'a wrong key is refused with its code');
    await shot('remote-00-wrong-key');
    const kindAfterWrongKey = await d.attr(await d.find('[data-testid=connection-badge]'), 'data-kind');
    assert(kindAfterWrongKey === 'embedded', 'still on the embedded store after a wrong key');
    await d.fill(await d.find('[data-testid=conn-key]'), E2E_REMOTE_API_KEY);
    await d.clickCss('[data-testid=conn-connect]');
    await confirmLeaving();
    await d.waitFor('[data-testid=server]', { timeout: 20000 });
    const badge = await d.find('[data-testid=connection-badge]');
    assert((await d.attr(badge, 'data-kind')) === 'remote', 'the badge says remote');
    assert((await d.attr(badge, 'data-colour')) === 'red', 'the badge is red');
    assert((await d.text(await d.find('[data-testid=connection-name]'))) === 'Remote E2E', 'the badge names the connection');
    assert((await d.text(await d.find('[data-testid=issuer]'))) === E2E_REMOTE_ISSUER, 'the remote issuer is shown');
    const page = await d.exec('return document.body.innerHTML;');
    assert(!page.includes(E2E_REMOTE_API_KEY), 'the API key is nowhere in the page');
    const list = await d.execAsync(
      `const done = arguments[arguments.length - 1];
       window.__TAURI_INTERNALS__.invoke('connections_list').then((v) => done(JSON.stringify(v)), (e) => done('error:' + JSON.stringify(e)));`,
    );
    assert(!list.includes(E2E_REMOTE_API_KEY), 'connections_list carries no key');
    const saved = readFileSync(E2E_CONNECTIONS, 'utf8');
    assert(saved.includes('Remote E2E') && !saved.includes(E2E_REMOTE_API_KEY), 'saved without the key');
    await shot('remote-01-connected');
  }],

  ...story(remote),
];

let passed = 0;
let failed = 0;
try {
  await d.start(E2E_APP, ['--db', E2E_DB, '--port', E2E_PORT, '--connections', E2E_CONNECTIONS]);
  for (const [name, fn] of tests) {
    try {
      await fn();
      passed++;
      console.log(`ok - ${name}`);
    } catch (e) {
      failed++;
      console.log(`not ok - ${name}\n  ${e.message}`);
      await shot(`failed-${passed + failed}`).catch(() => {});
    }
  }
} catch (e) {
  failed++;
  console.log(`not ok - starting the console\n  ${e.message}`);
} finally {
  await d.quit();
}
console.log(`desktop: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
