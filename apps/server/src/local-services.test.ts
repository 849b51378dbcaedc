import { createConnection } from 'node:net';
import { describe, expect, it } from 'vitest';
import { processAlive, startRedis } from './local-services.js';

/** Sends one inline Redis command over plain TCP and returns the reply line. */
function command(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('error', reject);
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().trim());
    });
    socket.write(`${line}\r\n`);
  });
}

describe('local services', () => {
  it('starts a Redis server on a free loopback port that answers, and stops it by its pid', async () => {
    // Execute
    const redis = await startRedis();
    const pong = await command(redis.port, 'PING');
    const stored = await command(redis.port, 'SET tabula:check 1');
    await redis.stop();

    // Assert
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect([pong, stored]).toEqual(['+PONG', '+OK']);
    expect(processAlive(redis.pid)).toBe(false);
    await expect(command(redis.port, 'PING')).rejects.toThrow(/ECONNREFUSED/);
  });
});
