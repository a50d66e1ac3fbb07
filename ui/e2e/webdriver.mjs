// A dependency-free W3C WebDriver client (Node's fetch), enough to drive the console
// through tauri-driver + WebKitWebDriver.

export class Driver {
  constructor(base) {
    this.base = base;
    this.session = null;
  }

  async cmd(method, path, body) {
    const url = `${this.base}${this.session && !path.startsWith('/session') && !path.startsWith('/status') ? `/session/${this.session}` : ''}${path}`;
    const res = await fetch(url, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) {
      const v = json.value ?? {};
      throw new Error(`${method} ${path}: ${v.error ?? res.status} ${v.message ?? ''}`.trim());
    }
    return json.value;
  }

  async start(application, args) {
    const v = await this.cmd('POST', '/session', {
      capabilities: { alwaysMatch: { 'tauri:options': { application, args } } },
    });
    this.session = v.sessionId;
    return v;
  }

  async quit() {
    if (this.session) await this.cmd('DELETE', `/session/${this.session}`).catch(() => {});
    this.session = null;
  }

  async find(css) {
    const v = await this.cmd('POST', '/element', { using: 'css selector', value: css });
    return Object.values(v)[0];
  }

  async findAll(css) {
    const v = await this.cmd('POST', '/elements', { using: 'css selector', value: css });
    return v.map((e) => Object.values(e)[0]);
  }

  /** Waits until `css` matches (and `pred(text)` holds, when given). */
  async waitFor(css, { timeout = 15000, pred } = {}) {
    const end = Date.now() + timeout;
    let last = '';
    for (;;) {
      try {
        const id = await this.find(css);
        if (!pred) return id;
        last = await this.text(id);
        if (pred(last)) return id;
      } catch {
        /* not there yet */
      }
      if (Date.now() > end) throw new Error(`timed out waiting for ${css}${pred ? ` (last text: ${JSON.stringify(last)})` : ''}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  /** Runs `script` until it returns something truthy (a list: non-empty) and returns
   * that: for what the page shows after an answer arrives, however slow the machine. */
  async until(script, { timeout = 15000, what = script } = {}) {
    const end = Date.now() + timeout;
    for (;;) {
      const v = await this.exec(script).catch(() => null);
      if (Array.isArray(v) ? v.length > 0 : v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  click(id) { return this.cmd('POST', `/element/${id}/click`, {}); }
  text(id) { return this.cmd('GET', `/element/${id}/text`); }
  attr(id, name) { return this.cmd('GET', `/element/${id}/attribute/${name}`); }
  clear(id) { return this.cmd('POST', `/element/${id}/clear`, {}); }
  type(id, text) { return this.cmd('POST', `/element/${id}/value`, { text }); }
  async fill(id, text) { await this.clear(id); await this.type(id, text); }
  async clickCss(css) { await this.click(await this.waitFor(css)); }
  exec(script, args = []) { return this.cmd('POST', '/execute/sync', { script, args }); }
  execAsync(script, args = []) { return this.cmd('POST', '/execute/async', { script, args }); }
  screenshot() { return this.cmd('GET', '/screenshot'); }

  /** Presses keys where focus is (not into an element): each entry is one key, or an
   * array pressed together (modifiers first), e.g. [Keys.Alt, '1']. */
  async keys(...presses) {
    const actions = [];
    for (const p of presses) {
      const ks = [].concat(p);
      for (const k of ks) actions.push({ type: 'keyDown', value: k });
      for (const k of [...ks].reverse()) actions.push({ type: 'keyUp', value: k });
    }
    await this.cmd('POST', '/actions', { actions: [{ type: 'key', id: 'keyboard', actions }] });
  }

  /** A real mouse wheel over a point of the viewport. */
  wheel(x, y, deltaY) {
    return this.cmd('POST', '/actions', {
      actions: [{ type: 'wheel', id: 'wheel', actions: [{ type: 'scroll', x, y, deltaX: 0, deltaY, origin: 'viewport' }] }],
    });
  }
  url() { return this.cmd('GET', '/url'); }
  windowHandles() { return this.cmd('GET', '/window/handles'); }
  /** Resizes the window (W3C Set Window Rect). */
  setSize(width, height) { return this.cmd('POST', '/window/rect', { width, height }); }
  getRect() { return this.cmd('GET', '/window/rect'); }
}

/** WebDriver key codes. */
export const Keys = { Escape: '\uE00C', Tab: '\uE004', Alt: '\uE00A', Shift: '\uE008' };
