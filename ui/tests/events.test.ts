import { describe, expect, it } from 'vitest';
import { emitAdminEvent, eventKindOf, onAdminEventOf } from '../src/lib/events';
import type * as T from '../src/lib/types';

function event(kind: T.EventKind, action: string): T.AdminEventDto {
  return {
    kind,
    event: { id: 1, at: 0, actor: 'admin', action, security: kind === 'security_event' } as T.AuditEventDto,
  };
}

describe('live admin events', () => {
  it('a listener for some kinds hears only those kinds', () => {
    const heard: string[] = [];
    const off = onAdminEventOf(['session_created', 'session_revoked'], (e) => heard.push(e.event.action));
    emitAdminEvent(event('session_created', 'session.create'));
    emitAdminEvent(event('client_changed', 'client.update'));
    emitAdminEvent(event('session_revoked', 'token.revoke'));
    off();
    emitAdminEvent(event('session_revoked', 'session.revoke'));
    expect(heard).toEqual(['session.create', 'token.revoke']);
  });

  it('an action maps to its kind by the generated table, not by its text', () => {
    expect(eventKindOf('session.create', false)).toBe('session_created');
    expect(eventKindOf('user.disable', false)).toBe('session_revoked');
    expect(eventKindOf('key.schedule', false)).toBe('key_rotated');
    expect(eventKindOf('key.revoke', false)).toBe('key_revoked');
    // A made-up action that looks like a session one is still only a change.
    expect(eventKindOf('session.something_new', false)).toBe('changed');
    expect(eventKindOf('toString', false)).toBe('changed');
    expect(eventKindOf('client.create', true)).toBe('security_event');
  });
});
