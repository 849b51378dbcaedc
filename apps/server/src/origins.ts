/**
 * Which web pages may open a socket to the hub. Any page a person visits could otherwise enrol their browser
 * as a participant (a WebSocket is not bound by CORS). Browsers always send Origin on a WebSocket and on
 * cross-origin requests; clients that send none (Node participants, curl) are not browsers and are allowed.
 */
export const DEFAULT_ALLOWED_ORIGINS: readonly string[] = ['http://localhost:*', 'http://127.0.0.1:*'];

const PATTERN_HELP = 'an origin is scheme://host[:port], with :* for any port, or * for any origin';

/** Why the origin may not connect, or null when it may. The hub's own origin (the Host it was asked for) always may. */
export type OriginPolicy = (origin: string | undefined, host: string | undefined) => string | null;

/** Compiles `patterns` (see PATTERN_HELP); throws naming the first that is not one. */
export function originPolicy(patterns: readonly string[]): OriginPolicy {
  const matchers = patterns.map(compile);
  return (origin, host) => {
    if (origin === undefined) return null;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return 'the Origin header is not an origin';
    }
    if (url.host === host?.toLowerCase() || matchers.some((matches) => matches(url))) return null;
    return `origin ${url.origin} is not allowed to connect to this hub (see TABULA_ALLOWED_ORIGINS)`;
  };
}

/** Splits a comma-separated TABULA_ALLOWED_ORIGINS and checks every entry; throws naming a bad one. */
export function parseAllowedOrigins(value: string): string[] {
  const patterns = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  originPolicy(patterns);
  return patterns;
}

function compile(pattern: string): (url: URL) => boolean {
  if (pattern === '*') return () => true;
  const anyPort = pattern.endsWith(':*');
  let allowed: URL;
  try {
    allowed = new URL(anyPort ? pattern.slice(0, -2) : pattern);
  } catch {
    throw new Error(`"${pattern}" is not an origin: ${PATTERN_HELP}`);
  }
  const bare = allowed.pathname === '/' && !allowed.search && !allowed.hash && !allowed.username && !allowed.password;
  if (!['http:', 'https:'].includes(allowed.protocol) || !bare || (anyPort && allowed.port))
    throw new Error(`"${pattern}" is not an origin: ${PATTERN_HELP}`);
  return anyPort ? (url) => url.protocol === allowed.protocol && url.hostname === allowed.hostname : (url) => url.origin === allowed.origin;
}
