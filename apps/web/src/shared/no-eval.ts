// The hub's Content-Security-Policy has no 'unsafe-eval'. Without this, zod probes `new Function` to decide
// whether to compile its parsers, and every page reports a CSP violation. Each page imports this first.
import { z } from 'zod';

z.config({ jitless: true });
