import { request } from 'node:http';
import type { ClientToServerEvents, ServerToClientEvents } from '@tabula/core';
import { io, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { throttleKey } from './admin-auth.js';
import { TEST_TOKEN, afterThisTest, startTestHub } from './test-hub.js';

const THROTTLE = { maxFailures: 3, windowMs: 60_000 };
const THROTTLED = /^too many failed admin sign-ins; retry in \d+ s$/;

afterEach(() => void vi.useRealTimers());

/** DELETE of a run that does not exist: 404 once signed in, so the status tells how sign-in went. */
async function adminRequest(url: string, token: string): Promise<{ status: number; retryAfter: string | null; error: string }> {
  const response = await fetch(`${url}/api/runs/run-none`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    error: ((await response.json()) as { error: string }).error,
  };
}

/** The same request from another loopback address (127.0.0.0/8 all reaches the hub on 127.0.0.1). */
function adminRequestFrom(localAddress: string, url: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/api/runs/run-none`,
      { method: 'DELETE', localAddress, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.once('error', reject);
    req.end();
  });
}

/** An admin handshake: 'connected' or the hub's refusal. */
async function adminSocket(
  url: string,
  token: string,
  from: { localAddress?: string; extraHeaders?: Record<string, string> } = {},
): Promise<string> {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    auth: { role: 'admin', token },
    ...from,
  });
  afterThisTest(() => void socket.disconnect());
  return new Promise((resolve) => {
    socket.once('connect', () => resolve('connected'));
    socket.once('connect_error', (error) => resolve(error.message));
  });
}

describe('admin sign-in throttling', () => {
  it('refuses an address after too many wrong tokens over HTTP, the right token too, on both paths', async () => {
    // Prepare
    const { hub, url } = await startTestHub({ adminThrottle: THROTTLE });
    for (let i = 0; i < THROTTLE.maxFailures; i++) expect((await adminRequest(url, `wrong-token-${i}`)).status).toBe(401);
    // Execute
    const http = await adminRequest(url, TEST_TOKEN);
    const socket = await adminSocket(url, TEST_TOKEN);
    const run = await fetch(`${url}/api/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
      body: '{}',
    });
    // Assert
    expect(http.status).toBe(429);
    expect(http.error).toMatch(THROTTLED);
    expect(Number(http.retryAfter)).toBeGreaterThan(0);
    expect(Number(http.retryAfter)).toBeLessThanOrEqual(60);
    expect(socket).toMatch(THROTTLED);
    expect(run.status).toBe(429);
    expect(hub.store.listRuns()).toEqual([]);
  });

  it('counts failed admin handshakes on the socket toward the same limit as HTTP', async () => {
    // Prepare
    const { url } = await startTestHub({ adminThrottle: THROTTLE });
    // Execute
    const refusals = [];
    for (let i = 0; i < THROTTLE.maxFailures; i++) refusals.push(await adminSocket(url, `wrong-token-${i}`));
    const http = await adminRequest(url, TEST_TOKEN);
    const socket = await adminSocket(url, TEST_TOKEN);
    // Assert
    expect(refusals).toEqual(Array(THROTTLE.maxFailures).fill('invalid admin token'));
    expect(http.status).toBe(429);
    expect(socket).toMatch(THROTTLED);
  });

  it('never counts successful sign-ins', async () => {
    // Prepare
    const { url } = await startTestHub({ adminThrottle: THROTTLE });
    for (let i = 0; i < THROTTLE.maxFailures - 1; i++) expect((await adminRequest(url, 'wrong-token-000')).status).toBe(401);
    // Execute
    const statuses = [];
    for (let i = 0; i < 3 * THROTTLE.maxFailures; i++) statuses.push((await adminRequest(url, TEST_TOKEN)).status);
    const sockets = [];
    for (let i = 0; i < 3 * THROTTLE.maxFailures; i++) sockets.push(await adminSocket(url, TEST_TOKEN));
    // Assert
    expect(statuses).toEqual(Array(3 * THROTTLE.maxFailures).fill(404));
    expect(sockets).toEqual(Array(3 * THROTTLE.maxFailures).fill('connected'));
  });

  it('lets another address sign in while one is locked out', async () => {
    // Prepare
    const { url } = await startTestHub({ adminThrottle: THROTTLE });
    for (let i = 0; i < THROTTLE.maxFailures; i++) expect(await adminRequestFrom('127.0.0.1', url, 'wrong-token-000')).toBe(401);
    // Execute
    const locked = await adminRequestFrom('127.0.0.1', url, TEST_TOKEN);
    const other = await adminRequestFrom('127.0.0.2', url, TEST_TOKEN);
    const otherSocket = await adminSocket(url, TEST_TOKEN, { localAddress: '127.0.0.2' });
    // Assert
    expect(locked).toBe(429);
    expect(other).toBe(404);
    expect(otherSocket).toBe('connected');
  });

  it('accepts the right token again once the window has passed', async () => {
    // Prepare
    const { url } = await startTestHub({ adminThrottle: THROTTLE });
    for (let i = 0; i < THROTTLE.maxFailures; i++) await adminRequest(url, 'wrong-token-000');
    expect((await adminRequest(url, TEST_TOKEN)).status).toBe(429);
    // Execute: the limiter reads the clock from Date; jump it past the window instead of waiting a minute.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + THROTTLE.windowMs + 1000 });
    const http = await adminRequest(url, TEST_TOKEN);
    const socket = await adminSocket(url, TEST_TOKEN);
    // Assert
    expect(http.status).toBe(404);
    expect(socket).toBe('connected');
  });

  it('throttles the client a trusted proxy names, and ignores X-Forwarded-For from anyone else', async () => {
    // Prepare
    const proxied = await startTestHub({ adminThrottle: THROTTLE, trustProxy: ['loopback'] });
    const direct = await startTestHub({ adminThrottle: THROTTLE });
    const from = async (url: string, client: string, token: string) =>
      (
        await fetch(`${url}/api/runs/run-none`, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': client },
        })
      ).status;
    for (let i = 0; i < THROTTLE.maxFailures; i++) {
      expect(await from(proxied.url, '203.0.113.5', 'wrong-token-000')).toBe(401);
      expect(await from(direct.url, '203.0.113.5', 'wrong-token-000')).toBe(401);
    }
    // Execute
    const guesser = await from(proxied.url, '203.0.113.5', TEST_TOKEN);
    const guesserSocket = await adminSocket(proxied.url, TEST_TOKEN, { extraHeaders: { 'x-forwarded-for': '203.0.113.5' } });
    const neighbour = await from(proxied.url, '203.0.113.6', TEST_TOKEN);
    const spoofed = await from(direct.url, '203.0.113.6', TEST_TOKEN);
    // Assert
    expect(guesser).toBe(429);
    expect(guesserSocket).toMatch(THROTTLED);
    expect(neighbour).toBe(404);
    expect(spoofed).toBe(429);
  });

  it('keys IPv4 addresses as they are and IPv6 addresses by their /64', () => {
    expect(throttleKey('203.0.113.5')).toBe('203.0.113.5');
    expect(throttleKey('::ffff:203.0.113.5')).toBe('203.0.113.5');
    expect(throttleKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(throttleKey('2001:DB8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(throttleKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(throttleKey('::1')).toBe('0:0:0:0::/64');
  });
});
