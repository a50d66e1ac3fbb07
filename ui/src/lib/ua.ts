// A user-agent string in a few words ("Firefox on Linux", "curl"), for the Sessions
// table's Device column. Families only: versions change weekly and say little to an
// administrator deciding whether a session is theirs.
const BROWSERS: [RegExp, string][] = [
  [/Edg(e|A|iOS)?\//, 'Edge'],
  [/OPR\/|Opera/, 'Opera'],
  [/Firefox\/|FxiOS\//, 'Firefox'],
  [/Chrome\/|CriOS\/|Chromium\//, 'Chrome'],
  [/Safari\//, 'Safari'],
  [/^curl\//i, 'curl'],
  [/^Wget\//i, 'Wget'],
  [/python-requests|aiohttp|httpx|Python-urllib/i, 'Python'],
  [/okhttp/i, 'OkHttp'],
  [/^Go-http-client/i, 'Go'],
  [/^node|undici|axios/i, 'Node.js'],
  [/reqwest/i, 'Rust (reqwest)'],
  [/^Java\//i, 'Java'],
];
const SYSTEMS: [RegExp, string][] = [
  [/Android/, 'Android'],
  [/iPhone|iPad|iPod|iOS/, 'iOS'],
  [/Mac OS X|Macintosh/, 'macOS'],
  [/Windows/, 'Windows'],
  [/CrOS/, 'ChromeOS'],
  [/Linux|X11/, 'Linux'],
];

/** "Firefox on Linux", "curl", or "unknown" when nothing was sent. */
export function deviceOf(ua: string | null | undefined): string {
  if (!ua || !ua.trim()) return 'unknown';
  const browser = BROWSERS.find(([re]) => re.test(ua))?.[1];
  const os = SYSTEMS.find(([re]) => re.test(ua))?.[1];
  if (browser && os) return `${browser} on ${os}`;
  return browser ?? os ?? 'other';
}
