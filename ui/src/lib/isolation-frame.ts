// Tauri's isolation pattern puts a sandboxed <iframe id="__tauri_isolation__"> at the end
// of <body> (every IPC message passes through it, ui/isolation/index.html). Tauri hides it
// with an inline <style>, which this console's CSP (style-src 'self') refuses, so the
// frame stayed in the page flow: 150 px below the shell made the whole window scroll
// (the wheel over the sidebar moved the connection badge out of sight), and it was a Tab
// stop with no accessible name. app.css takes it out of the flow; this names it and takes
// it out of the Tab order and the accessibility tree. Nothing here touches what the frame
// does: Tauri finds it by id and checks its origin, neither of which changes.

export const ISOLATION_FRAME_ID = '__tauri_isolation__';

/** Names the frame and removes it from the Tab order and the accessibility tree. */
export function quietFrame(frame: Element): void {
  frame.setAttribute('title', 'Latchkey console: IPC isolation (not interactive)');
  frame.setAttribute('tabindex', '-1');
  frame.setAttribute('aria-hidden', 'true');
}

/** Quiets the frame now if Tauri has added it, and when it does (at DOMContentLoaded). */
export function quietIsolationFrame(doc: Document = document): void {
  const now = doc.getElementById(ISOLATION_FRAME_ID);
  if (now) {
    quietFrame(now);
    return;
  }
  const watch = new MutationObserver(() => {
    const f = doc.getElementById(ISOLATION_FRAME_ID);
    if (f) {
      quietFrame(f);
      watch.disconnect();
    }
  });
  watch.observe(doc.documentElement, { childList: true, subtree: true });
}
