/**
 * npm run swarm -- --url http://localhost:8080 --participants 50 [--scenario shards] [--attack nan]
 * N participants in one Node process over real socket.io connections, running the browser's Participant.
 */
import { parseArgs } from 'node:util';
import { SCENARIOS, useBackend, type ScenarioSpec } from '@tabula/core';
import { ATTACKS, connectParticipant, type Attack, type NodeParticipant } from '../node-participant.js';

const HELP = `Usage: npm run swarm -- [options]

Connects N participants to a hub from one Node process. Each asks the hub for a data shard (or takes one of
--scenario) and trains with the same participant runtime as a browser tab.

  --url URL             hub address                                   [http://localhost:8080]
  --participants N      how many                                      [10]
  --scenario NAME       hold shards of this scenario: ${SCENARIOS.join(' | ')} (default: ask the hub)
  --scenario-size N     participants in that scenario                 [max(N, 20)]
  --seed N              scenario seed                                 [1]
  --backend NAME        TF.js backend: wasm | cpu                     [wasm]
  --attack NAME         misbehave: ${ATTACKS.join(' | ')}
  --attackers N         how many of them misbehave                    [all, with --attack]
  -h, --help
`;

function fail(message: string): never {
  console.error(`swarm: ${message}\n\nRun with --help for the options.`);
  process.exit(2);
}

const { values: v } = (() => {
  try {
    return parseArgs({
      options: {
        url: { type: 'string', default: 'http://localhost:8080' },
        participants: { type: 'string', default: '10' },
        scenario: { type: 'string' },
        'scenario-size': { type: 'string' },
        seed: { type: 'string', default: '1' },
        backend: { type: 'string', default: 'wasm' },
        attack: { type: 'string' },
        attackers: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
})();
if (v.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const count = Number(v.participants);
if (!Number.isInteger(count) || count < 1) fail(`--participants needs a positive integer, got "${v.participants}"`);
const attack = v.attack as Attack | undefined;
if (attack !== undefined && !ATTACKS.includes(attack)) fail(`unknown attack "${v.attack}" (one of ${ATTACKS.join(', ')})`);
const attackers = v.attackers !== undefined ? Number(v.attackers) : attack ? count : 0;
if (v.backend !== 'wasm' && v.backend !== 'cpu') fail(`unknown backend "${v.backend}" (wasm or cpu)`);
let scenario: ScenarioSpec | undefined;
if (v.scenario !== undefined) {
  if (!SCENARIOS.includes(v.scenario as ScenarioSpec['name'])) fail(`unknown scenario "${v.scenario}"`);
  scenario = {
    name: v.scenario as ScenarioSpec['name'],
    participants: Number(v['scenario-size'] ?? Math.max(count, 20)),
    seed: Number(v.seed),
  };
}

await useBackend(v.backend);
const swarm: NodeParticipant[] = [];
let rejected = 0;
for (let i = 0; i < count; i++) {
  const bad = i < attackers ? attack : undefined;
  try {
    const p = await connectParticipant({
      url: v.url,
      backend: v.backend,
      ...(scenario ? { scenario, assignedIndex: i } : {}),
      ...(bad ? { attack: bad } : {}),
      onRejected: (error) => {
        rejected++;
        if (rejected <= 10) console.log(`swarm: participant ${i} update rejected: ${error}`);
      },
      onFarewell: (notice) => console.log(`swarm: participant ${i} was disconnected by the hub and stays away: ${notice.reason}`),
      onStatus: (s) => {
        if (s.state === 'error') console.log(`swarm: participant ${i} error in round ${s.round ?? '-'}: ${s.message}`);
      },
      onRound: (r) => {
        if (i === 0)
          console.log(
            `swarm: round ${r.round} · ${r.mode} · ${r.evaluation ? `${r.evaluation.metric} ${r.evaluation.before.toFixed(3)} -> ${r.evaluation.after.toFixed(3)}` : 'no evaluation'} · ${r.accepted ? 'accepted' : `rejected: ${r.error}`}`,
          );
      },
    });
    swarm.push(p);
  } catch (error) {
    fail(`participant ${i}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
console.log(
  `swarm: ${swarm.length} participants connected to ${v.url}${attack ? ` (${attackers} attacking with ${attack})` : ''}; Ctrl-C to leave`,
);
process.on('SIGINT', () => {
  for (const p of swarm) p.close();
  process.exit(0);
});
