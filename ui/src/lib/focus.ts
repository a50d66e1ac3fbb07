// Where keyboard focus goes when a dialog opens, changes step or closes: never to
// <body>, where the next Tab starts over at the top of the window and a screen reader
// loses its place.

const FOCUSABLE = 'button, [href], input, select, textarea, [tabindex]';

/** The control pressed last. WebKit (as Safari) does not focus a button on a mouse click,
 * so `document.activeElement` is often <body> when a dialog opens from one: without this
 * the dialog would have nothing to give focus back to. */
let lastPressed: HTMLElement | null = null;
if (typeof document !== 'undefined') {
  document.addEventListener('click', (e) => {
    const t = (e.target as Element | null)?.closest?.(FOCUSABLE);
    if (t instanceof HTMLElement) lastPressed = t;
  }, true);
}

/** What opened whatever is opening now: the focused control, else the one last pressed. */
export function opener(): HTMLElement | null {
  const a = document.activeElement;
  if (a instanceof HTMLElement && a !== document.body && a !== document.documentElement) return a;
  return lastPressed?.isConnected ? lastPressed : null;
}

/** Can take focus now: in the document, enabled, rendered. */
export function focusable(el: Element | null | undefined): el is HTMLElement {
  if (!(el instanceof HTMLElement) || !el.isConnected) return false;
  if (el.matches(':disabled') || el.closest('[inert], [hidden]')) return false;
  return true;
}

/** Focuses the first field in `root` (a checked radio of a group rather than its first
 * one, as arrow keys then move within the group). True when something took focus. */
export function focusFirst(root: ParentNode | null | undefined): boolean {
  if (!root) return false;
  const fields = [...root.querySelectorAll<HTMLElement>('input, select, textarea, button:not(.x), [href], [tabindex]:not([tabindex="-1"])')]
    .filter((el) => focusable(el) && !(el instanceof HTMLInputElement && el.type === 'hidden'));
  let first = fields[0];
  if (first instanceof HTMLInputElement && first.type === 'radio' && !first.checked) {
    const group = first.name;
    const checked = fields.find((f) => f instanceof HTMLInputElement && f.type === 'radio' && f.name === group && f.checked);
    if (checked) first = checked;
  }
  if (!first) return false;
  first.focus();
  return document.activeElement === first;
}

/** Gives focus back to `el`; when it is gone, to the top open dialog's first field, else to
 * the page (#main). */
export function restoreFocus(el: HTMLElement | null): void {
  if (focusable(el)) {
    el.focus();
    if (document.activeElement === el) return;
  }
  const dialogs = document.querySelectorAll<HTMLElement>('[role=dialog][aria-modal=true]');
  const top = dialogs[dialogs.length - 1];
  if (top && focusFirst(top)) return;
  document.getElementById('main')?.focus();
}
