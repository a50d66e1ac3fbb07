// Light and dark themes: the system's choice unless the user picked one in Settings.
export type Theme = 'system' | 'light' | 'dark';
const KEY = 'latchkey.theme';

export function storedTheme(): Theme {
  const t = typeof localStorage !== 'undefined' ? localStorage.getItem(KEY) : null;
  return t === 'light' || t === 'dark' ? t : 'system';
}

export function applyTheme(t: Theme): void {
  if (typeof localStorage !== 'undefined') {
    if (t === 'system') localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, t);
  }
  const dark = t === 'dark' || (t === 'system' && typeof matchMedia !== 'undefined' && matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
}
