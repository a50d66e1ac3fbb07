// What the Security page and the Dashboard say about findings: the detections' rules in
// plain words, severities in order, and which responses fit a finding's subject.
import type { FindingDto } from './types';

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Each detection's stable id (the server's `monitor::RULES`), in words. An id the
 * console does not know yet is shown as it is. */
export const RULE_WORDS: Record<string, string> = {
  brute_force: 'Brute force on one account',
  spray: 'Password spray from one address',
  spray_success: 'Sign-in succeeded during a spray',
  client_guess: 'Client secret guessing',
  wave: 'Server-wide wave of failed sign-ins',
  unfamiliar_sign_in: 'Sign-in from an unfamiliar network and browser',
  refresh_reuse: 'Refresh token replayed (likely theft)',
  mint_spike: 'Token-minting spike',
  mint_new_use: 'Grant type or scope never used before',
  revoked_token_replay: 'Revoked token presented again',
  token_scan: 'Many invalid tokens presented',
  hygiene: 'Credential hygiene overdue',
};

/** Rules whose findings mark a spike on the Dashboard's tokens-per-minute chart. */
export const SPIKE_RULES: string[] = ['mint_spike'];

export const ruleWords = (rule: string): string => RULE_WORDS[rule] ?? rule;

/** Open findings per severity, most severe first; severities with none are left out. */
export function openBySeverity(findings: FindingDto[]): { severity: string; count: number }[] {
  const n = new Map<string, number>();
  for (const f of findings) if (f.status === 'open') n.set(f.severity, (n.get(f.severity) ?? 0) + 1);
  return SEVERITIES.filter((s) => n.has(s)).map((s) => ({ severity: s, count: n.get(s)! }));
}

/** Sorts most severe first, then newest. */
export function bySeverity(a: FindingDto, b: FindingDto): number {
  const r = (s: string) => { const i = SEVERITIES.indexOf(s as Severity); return i < 0 ? SEVERITIES.length : i; };
  return r(a.severity) - r(b.severity) || b.last_seen - a.last_seen;
}

/** Where an address finding's evidence says the attempts came from, if it says. */
export function evidenceAddress(f: FindingDto): string | null {
  if (f.subject_kind === 'address') return f.subject;
  const e = f.evidence as Record<string, unknown> | null;
  const a = e && (e.address ?? e.ip ?? e.cidr);
  return typeof a === 'string' ? a : null;
}

/** Block durations the block dialog offers (seconds; null: until removed). */
export const BLOCK_DURATIONS: { label: string; secs: number | null }[] = [
  { label: '15 minutes', secs: 900 },
  { label: '1 hour', secs: 3600 },
  { label: '1 day', secs: 86400 },
  { label: '30 days', secs: 30 * 86400 },
  { label: 'Until removed', secs: null },
];
