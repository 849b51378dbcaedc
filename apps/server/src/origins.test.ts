import { io } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { afterThisTest, startTestHub } from './test-hub.js';

/** A participant socket sending `origin` as a browser would: 'connected' or why it could not. */
async function connectFrom(url: string, origin: string | null): Promise<string> {
  const socket = io(url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...(origin ? { extraHeaders: { origin } } : {}),
  });
  afterThisTest(() => void socket.disconnect());
  return new Promise((resolve) => {
    socket.once('connect', () => resolve('connected'));
    socket.once('connect_error', (error) => resolve(error.message));
  });
}

describe('allowed origins', () => {
  it("refuses a socket from another site, accepts the hub's own origin, localhost and clients that send no Origin", async () => {
    // Prepare
    const { port, url } = await startTestHub();
    // Execute
    const evil = await connectFrom(url, 'http://evil.example');
    const evilSameHostName = await connectFrom(url, `http://evil.example:${port}`);
    const own = await connectFrom(url, url);
    const localhost = await connectFrom(url, 'http://localhost:5173');
    const node = await connectFrom(url, null);
    // Assert
    expect(evil).not.toBe('connected');
    expect(evilSameHostName).not.toBe('connected');
    expect(own).toBe('connected');
    expect(localhost).toBe('connected');
    expect(node).toBe('connected');
  });

  it("accepts configured origins instead of localhost, and the hub's own origin always", async () => {
    // Prepare
    const { url } = await startTestHub({ allowedOrigins: ['https://lab.example', 'http://10.0.0.7:*'] });
    // Execute
    const configured = await connectFrom(url, 'https://lab.example');
    const wildcardPort = await connectFrom(url, 'http://10.0.0.7:8080');
    const otherScheme = await connectFrom(url, 'http://lab.example');
    const localhost = await connectFrom(url, 'http://localhost:5173');
    const own = await connectFrom(url, url);
    // Assert
    expect(configured).toBe('connected');
    expect(wildcardPort).toBe('connected');
    expect(otherScheme).not.toBe('connected');
    expect(localhost).not.toBe('connected');
    expect(own).toBe('connected');
  });

  it('answers a refused polling request with 403 and the reason', async () => {
    // Prepare
    const { url } = await startTestHub();
    // Execute
    const response = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, { headers: { origin: 'http://evil.example' } });
    // Assert
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('origin http://evil.example is not allowed');
  });
});
