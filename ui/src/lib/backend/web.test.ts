import { describe, expect, it, vi } from 'vitest';
import type { ChangeEvent } from '../bindings';
import { BackendError, isLagged, type ChangeNotice } from './types';
import { WebBackend, takeToken } from './web';

class FakeSocket {
  static last: FakeSocket | null = null;
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: unknown }) => void) | null = null;
  onclose: (() => void) | null = null;
  closed = false;
  constructor(public url: string) {
    FakeSocket.last = this;
  }
  close() {
    this.closed = true;
  }
}

function response(status: number, body: unknown): Response {
  return new Response(body === undefined ? '' : JSON.stringify(body), { status });
}

describe('WebBackend', () => {
  it('posts the args to /api/call/{cmd} with the bearer token', async () => {
    const fetch = vi.fn(async () => response(200, [{ id: 'a' }]));
    const b = new WebBackend({ base: 'http://127.0.0.1:7777', token: 'T0K', fetch: fetch as unknown as typeof window.fetch });
    const out = await b.call('courses', { space: null });
    expect(out).toEqual([{ id: 'a' }]);
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('http://127.0.0.1:7777/api/call/courses');
    expect(init.method).toBe('POST');
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer T0K');
    expect(JSON.parse(init.body as string)).toEqual({ space: null });
  });

  it('turns error responses into { code, message }', async () => {
    const fetch = vi.fn(async () => response(404, { code: 'not_found', message: 'no such lesson' }));
    const b = new WebBackend({ base: 'http://h', token: 't', fetch: fetch as unknown as typeof window.fetch });
    const err = await b.call('lesson', { id: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err).toMatchObject({ code: 'not_found', message: 'no such lesson' });

    const bad = vi.fn(async () => response(401, undefined));
    const b2 = new WebBackend({ base: 'http://h', token: 'wrong', fetch: bad as unknown as typeof window.fetch });
    await expect(b2.call('me', {})).rejects.toMatchObject({ code: 'invalid_input' });

    const down = vi.fn(async () => {
      throw new TypeError('Failed to fetch');
    });
    const b3 = new WebBackend({ base: 'http://h', token: 't', fetch: down as unknown as typeof window.fetch });
    await expect(b3.call('me', {})).rejects.toMatchObject({ code: 'internal' });
  });

  it('delivers change and sync events from the WebSocket, and closes it when nobody listens', () => {
    const b = new WebBackend({ base: 'http://127.0.0.1:7777', token: 'T', fetch: vi.fn(), WebSocket: FakeSocket as unknown as typeof WebSocket });
    const changes: ChangeNotice[] = [];
    const off = b.onChange((e) => changes.push(e));
    const socket = FakeSocket.last!;
    expect(socket.url).toBe('ws://127.0.0.1:7777/api/events?token=T');
    const event: ChangeEvent = { doc: 'd', space: 's', kind: 'lesson', change: 'updated' };
    socket.onmessage?.({ data: JSON.stringify({ event: 'change', data: event }) });
    socket.onmessage?.({ data: 'not json' });
    socket.onmessage?.({ data: JSON.stringify({ event: 'sync', data: { kind: 'synced' } }) });
    expect(changes).toEqual([event]);
    off();
    expect(socket.closed).toBe(true);
  });

  it('turns a lagged message, and a reconnect after a drop, into a lagged notice', () => {
    vi.useFakeTimers();
    try {
      const b = new WebBackend({ base: 'http://127.0.0.1:7777', token: 'T', fetch: vi.fn(), WebSocket: FakeSocket as unknown as typeof WebSocket });
      const got: ChangeNotice[] = [];
      b.onChange((e) => got.push(e));
      const first = FakeSocket.last!;
      first.onopen?.();
      expect(got).toEqual([]);
      first.onmessage?.({ data: JSON.stringify({ event: 'lagged' }) });
      expect(got).toEqual([{ lagged: true }]);
      expect(got.every(isLagged)).toBe(true);

      // The connection drops; events sent meanwhile are lost, so the reconnect says so.
      first.onclose?.();
      vi.advanceTimersByTime(600);
      const second = FakeSocket.last!;
      expect(second).not.toBe(first);
      second.onopen?.();
      expect(got).toEqual([{ lagged: true }, { lagged: true }]);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('takeToken', () => {
  it('takes the token from the address, keeps it for the session and hides it', () => {
    window.history.replaceState(null, '', '/?token=abc#/journal');
    expect(takeToken(window.location, window.sessionStorage)).toBe('abc');
    expect(window.location.search).toBe('');
    expect(window.location.hash).toBe('#/journal');
    expect(takeToken(window.location, window.sessionStorage)).toBe('abc');
  });
});
