// Times and durations for people: local time, "expires in 4 min", "3 h ago".

export function nowSecs(): number {
  return Math.floor(Date.now() / 1000);
}

export function localTime(unix: number | null | undefined): string {
  if (unix == null) return '—';
  const d = new Date(unix * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A span in the largest sensible unit: "45 s", "4 min", "3 h", "2 d". */
export function span(secs: number): string {
  const s = Math.abs(Math.round(secs));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400 * 2) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/** An exact span for settings: "10 min", "2 h 30 min", "1 d" (never rounded). */
export function exactSpan(secs: number): string {
  if (secs === 0) return '0 s';
  const parts: string[] = [];
  let rest = Math.abs(Math.round(secs));
  for (const [n, l] of [[86400, 'd'], [3600, 'h'], [60, 'min'], [1, 's']] as const) {
    if (rest >= n) {
      parts.push(`${Math.floor(rest / n)} ${l}`);
      rest %= n;
    }
  }
  return (secs < 0 ? '-' : '') + parts.join(' ');
}

/** "in 4 min" / "4 min ago" relative to `now`. */
export function relative(unix: number | null | undefined, now: number = nowSecs()): string {
  if (unix == null) return '—';
  const d = unix - now;
  if (Math.abs(d) < 5) return 'now';
  return d > 0 ? `in ${span(d)}` : `${span(d)} ago`;
}

export function shortId(id: string, n = 10): string {
  return id.length > n + 1 ? `${id.slice(0, n)}…` : id;
}

/** The local zone's offset from UTC at that instant: "UTC+01:00". */
export function zoneOf(unix: number): string {
  const m = -new Date(unix * 1000).getTimezoneOffset();
  const pad = (n: number) => String(Math.floor(Math.abs(n))).padStart(2, '0');
  return `UTC${m >= 0 ? '+' : '-'}${pad(m / 60)}:${pad(m % 60)}`;
}

/** Absolute local time with its zone, as an audit log should say it. */
export function zonedTime(unix: number | null | undefined): string {
  return unix == null ? '—' : `${localTime(unix)} ${zoneOf(unix)}`;
}

/** Local midnight that starts the day `daysAgo` days before today (0: today). */
export function dayStart(daysAgo: number, now: Date = new Date()): number {
  const d = new Date(now.getFullYear(), now.getMonth(), now.getDate() - daysAgo);
  return Math.floor(d.getTime() / 1000);
}

/** "Mon 7 Dec 2026" in local time. */
export function dayLabel(unix: number): string {
  return new Date(unix * 1000).toLocaleDateString('en-GB', { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' });
}
