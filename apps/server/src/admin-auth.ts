import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';
import proxyAddr from 'proxy-addr';
import { RateLimiterMemory } from 'rate-limiter-flexible';

/** Failed admin sign-ins allowed per client address within a window; beyond them every sign-in is refused. */
export interface AdminThrottle {
  readonly maxFailures: number;
  readonly windowMs: number;
}

export const DEFAULT_ADMIN_THROTTLE: AdminThrottle = { maxFailures: 10, windowMs: 60_000 };

export type AdminCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: 'token-required' | 'token-invalid'; readonly error: string }
  | { readonly ok: false; readonly code: 'throttled'; readonly error: string; readonly retryAfterS: number };

/** Constant-time comparison, so the token cannot be guessed byte by byte from response times. */
export function tokenMatches(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Splits a comma-separated TABULA_TRUST_PROXY and checks every entry; throws naming a bad one. */
export function parseTrustProxy(value: string): string[] {
  const proxies = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  try {
    proxyAddr.compile(proxies);
  } catch (error) {
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}: list proxy addresses or subnets, or loopback, linklocal, uniquelocal`,
      { cause: error },
    );
  }
  return proxies;
}

/** Throttling key of an address: IPv4 as is, IPv6 by its /64 (one host usually holds a whole /64). */
export function throttleKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const [head = '', tail] = address.toLowerCase().split('::');
  const groups = head ? head.split(':') : [];
  if (tail !== undefined) {
    const rest = tail ? tail.split(':') : [];
    groups.push(...Array<string>(Math.max(0, 8 - groups.length - rest.length)).fill('0'), ...rest);
  }
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

/**
 * Admin authentication shared by the HTTP API and the socket handshake, so both count failures against one
 * limit per address. Only failures count: a right token is never slowed. Once an address has spent its
 * failures, every attempt from it is refused until the window ends, the right token too: otherwise a guesser
 * could keep guessing and learn from which guess got through.
 */
export class AdminAuth {
  private readonly failures: RateLimiterMemory;
  private readonly trust: (address: string, hop: number) => boolean;

  /** `trustProxy`: proxies (addresses, subnets or proxy-addr's names) whose X-Forwarded-For names the client. */
  constructor(
    private readonly token: string,
    private readonly throttle: AdminThrottle = DEFAULT_ADMIN_THROTTLE,
    trustProxy: readonly string[] = [],
  ) {
    // One record per failing address, dropped when its window ends: memory is bounded by failures per window.
    this.failures = new RateLimiterMemory({ points: throttle.maxFailures, duration: throttle.windowMs / 1000 });
    this.trust = proxyAddr.compile([...trustProxy]);
  }

  /** The address a request came from: the socket's peer, or the client a trusted proxy names. */
  clientAddress(req: IncomingMessage): string {
    return proxyAddr(req, this.trust);
  }

  /** `token` as sent; undefined or '' when none was. */
  async check(req: IncomingMessage, token: unknown): Promise<AdminCheck> {
    const key = throttleKey(this.clientAddress(req));
    const spent = await this.failures.get(key);
    if (spent && spent.consumedPoints >= this.throttle.maxFailures && spent.msBeforeNext > 0) {
      const retryAfterS = Math.ceil(spent.msBeforeNext / 1000);
      return { ok: false, code: 'throttled', retryAfterS, error: `too many failed admin sign-ins; retry in ${retryAfterS} s` };
    }
    if (token === undefined || token === '') return { ok: false, code: 'token-required', error: 'admin token required' };
    if (tokenMatches(token, this.token)) return { ok: true };
    await this.failures.penalty(key);
    return { ok: false, code: 'token-invalid', error: 'invalid admin token' };
  }
}
