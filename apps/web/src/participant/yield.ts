/**
 * Lets the page repaint (progress bar) and handle events during training without slowing training down.
 * requestAnimationFrame would stall a background tab — most participant tabs are in the background, where
 * Chromium runs rAF rarely or never — and timers there are throttled to once a second. A MessageChannel
 * message is a plain task: never throttled. Yielding at most every `intervalMs` keeps the overhead negligible.
 */
export function createYielder(intervalMs = 30, now: () => number = () => performance.now()): () => Promise<void> {
  const channel = new MessageChannel();
  const waiting: (() => void)[] = [];
  channel.port1.onmessage = () => waiting.shift()?.();
  let last = now();
  return () => {
    if (now() - last < intervalMs) return Promise.resolve();
    return new Promise<void>((resolve) => {
      waiting.push(() => {
        last = now();
        resolve();
      });
      channel.port2.postMessage(null);
    });
  };
}
