import '../shared/no-eval.js';
import {
  Participant,
  localModel,
  sameAssignment,
  tf,
  type Assignment,
  type HelloBody,
  type LocalData,
  type ParticipantData,
  type ParticipantSession,
  type RoundTask,
  type ScenarioSpec,
  type Welcome,
} from '@tabula/core';
import '../shared/style.css';
import { byId, errorMessage, h } from '../shared/dom.js';
import { GuaranteeView } from './guarantee-view.js';
import { loadShard } from './assigned-data.js';
import { activateBackend, checkGradientOn, measureBackend, selectBackend, type BackendReport } from './backend.js';
import { BACKEND_LABEL, canTrain, chooseBackend, WASM_CNN_REASON } from './backend-choice.js';
import { BackendView } from './backend-view.js';
import { DataSourceView, type DataSource } from './data-source-view.js';
import { TabHeadStore } from './head-store.js';
import { HeadView } from './head-view.js';
import { HistoryView } from './history-view.js';
import { openHubSession, refusalMessage } from './hub-session.js';
import { Identity } from './identity.js';
import { OwnDataPanel } from './own-data-panel.js';
import { MIN_OWN_EXAMPLES, splitOwnData, type OwnDigit } from './own-data.js';
import { OwnDigitStore } from './own-store.js';
import { Participation } from './participation.js';
import { ParticipationView } from './participation-view.js';
import { MetaTest } from './meta-test.js';
import { StateView, type ViewStatus } from './state-view.js';
import { secAggCheck } from './secagg-check.js';
import { installHook } from './test-hook.js';
import { TrainingWorker } from './training-worker.js';
import { TryIt } from './try-it.js';
import { parseUrlOptions } from './url-options.js';
import { createYielder } from './yield.js';

const SOURCE_KEY = 'tabula.dataSource';
/** While the hub has no shard to hand out (no run yet), ask again this often. */
const REASK_MS = 5_000;
const BUSY = new Set(['downloading', 'evaluating', 'training', 'uploading']);

const url = parseUrlOptions(location.search);
const identity = await Identity.claim();
const stateView = new StateView();
const backendView = new BackendView();
const historyView = new HistoryView();
const headView = new HeadView();
const idText = h('span', { 'data-testid': 'participant-id', text: identity.id ?? '(new: the hub assigns one)' });
const guaranteeView = new GuaranteeView();
const notes = h('ul', { className: 'notes', 'aria-live': 'polite' });

/** What the page knows: the views show it, and `window.tabula` reads it. */
const page: {
  source: DataSource;
  shard: { scenario: ScenarioSpec; index: number; data: ParticipantData } | null;
  ownDigits: readonly OwnDigit[];
  backend: BackendReport | null;
  status: ViewStatus;
} = {
  source: url.shard ? 'assigned' : storedSource() === 'own' ? 'own' : 'assigned',
  shard: null,
  ownDigits: [],
  backend: null,
  status: { state: 'connecting', message: 'choosing a backend' },
};
/** The hub connection and the participant runtime, once a backend is chosen. */
let session: ParticipantSession | null = null;
let participant: Participant | null = null;
/** fedrep / fedper heads of this tab's participant id, per run (IndexedDB; memory if it fails). */
const heads = new TabHeadStore(() => identity.id, {
  onLoad: (runId, own) => headView.showSource(runId, own),
  onFallback: (reason) => {
    headView.showStorage({ kind: 'memory', reason });
    note(`personal heads are kept in memory only: IndexedDB unavailable (${reason})`);
  },
});
headView.showStorage(heads.where);

/** The hub this tab is connected to: the one that served the page, or another after its own went away. */
let hubUrl = location.origin;
/** The worker the tab trains in (null: it trains on this page: ?runtime=page, or the backend cannot run in a worker). */
let trainer: TrainingWorker | null = null;
installHook({
  get hub() {
    return hubUrl;
  },
  get runtime() {
    return trainer ? 'worker' : 'page';
  },
  get backend() {
    return page.backend?.backend ?? null;
  },
  get participantId() {
    return identity.id;
  },
  get state() {
    return page.status.state;
  },
  get status() {
    return page.status;
  },
  get history() {
    return participant?.history ?? [];
  },
  get dataSource() {
    return page.source;
  },
  get examples() {
    return examplesIn(localData());
  },
  tf,
  measure: measureBackend,
  gradientCheck: checkGradientOn,
  memory: () => ({
    tensors: tf.memory().numTensors,
    tensorBytes: tf.memory().numBytes,
    heapBytes: (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? null,
  }),
  secagg: secAggCheck,
});

function storedSource(): string | null {
  try {
    return localStorage.getItem(SOURCE_KEY);
  } catch {
    return null;
  }
}

function note(text: string): void {
  notes.prepend(h('li', { text: `${new Date().toLocaleTimeString()} ${text}` }));
  while (notes.children.length > 8) notes.lastElementChild?.remove();
}

function setStatus(next: ViewStatus): void {
  // Sitting out, the tab says so whatever the runtime reports (a round that was training finishes unseen: the hub
  // already stopped waiting for it); a connection problem still shows.
  const shown =
    sittingOut && next.state !== 'error' && next.state !== 'connecting' ? { state: 'paused' as const, message: sittingOut } : next;
  page.status = shown;
  stateView.show(shown);
  session?.reportStatus(shown);
}

// ---- taking part: the person's choices, remembered across reloads -------------------------------------

// Per tab, as its identity is: sessionStorage outlives a reload of this tab and is not shared with the browser's others.
const participation = new Participation(safeSessionStorage());
/** Why the tab sits out now (participation.pauseReason), or null when it takes part. */
let sittingOut: string | null = null;
let limitTimer: ReturnType<typeof setTimeout> | null = null;

function safeSessionStorage(): Storage | null {
  try {
    return sessionStorage;
  } catch {
    return null;
  }
}

/** Applies the person's choices: pauses or resumes the runtime, and tells the hub through the state. */
function applyParticipation(): void {
  const reason = participation.pauseReason(document.hidden);
  const was = sittingOut;
  sittingOut = reason;
  participant?.setPaused(reason !== null);
  participationView.show(participation.settings, participation.roundsThisHour, reason);
  if (reason !== null) setStatus({ state: 'paused', message: reason });
  else if (was !== null) setStatus(idleStatus());
  if (limitTimer) clearTimeout(limitTimer);
  const wait = participation.untilLimitLifts();
  limitTimer = wait === null ? null : setTimeout(applyParticipation, wait + 100);
}

const participationView = new ParticipationView(participation.settings, {
  pause: (paused) => {
    participation.update({ paused });
    applyParticipation();
  },
  visibleOnly: (visibleOnly) => {
    participation.update({ visibleOnly });
    applyParticipation();
  },
  maxRoundsPerHour: (max) => {
    try {
      participation.update({ maxRoundsPerHour: max });
    } catch (error) {
      return errorMessage(error);
    }
    applyParticipation();
    return null;
  },
  leave: (deleteData) => void leave(deleteData),
  join: () => {
    participation.update({ left: false });
    applyParticipation();
    session?.connect();
  },
});
document.addEventListener('visibilitychange', applyParticipation);

/** Says goodbye to the hub and stays away, across reloads, until the person joins again; optionally deletes the tab's data. */
async function leave(deleteData: boolean): Promise<void> {
  participation.update({ left: true });
  applyParticipation();
  session?.disconnect();
  if (!deleteData) return note('you left: this tab keeps its data and identity for when you join again');
  // The heads are stored under the id: read it before the id goes. The id goes first, synchronously, so that a tab
  // closed or reloaded at once does not come back as the participant it was.
  const heldHeads = heads.forget();
  identity.forget();
  idText.textContent = '(new: the hub assigns one)';
  await heldHeads.catch((error: unknown) => note(`could not delete the personal heads: ${errorMessage(error)}`));
  await store?.clear().catch((error: unknown) => note(`could not delete the drawn digits: ${errorMessage(error)}`));
  await ownPanel.load();
  note("you left and this tab's data is deleted: drawn digits, personal heads and its participant id");
}

function idleStatus(): ViewStatus {
  const data = localData();
  if (data) return { state: 'waiting' };
  if (page.source === 'own') return { state: 'waiting', message: `draw or upload at least ${MIN_OWN_EXAMPLES} digits to take part` };
  return { state: 'waiting', message: 'no simulation data assigned yet (the hub assigns a shard once a run has a scenario)' };
}

function localData(): LocalData | null {
  const { shard } = page;
  if (page.source === 'assigned') return shard ? shard.data : null;
  if (page.ownDigits.length < MIN_OWN_EXAMPLES) return null;
  const split = splitOwnData(page.ownDigits);
  return split ? { ...split, heldOut: false } : null;
}

function examplesIn(data: LocalData | null): number {
  return data ? data.support.count + data.query.count : 0;
}

function helloBody(): HelloBody {
  const { shard } = page;
  const name = page.backend?.backend ?? 'unknown';
  const examples = examplesIn(localData());
  if (page.source === 'own') return { backend: name, examples, heldOut: false, dataSource: 'own' };
  if (!shard) return { backend: name, examples: 0, heldOut: false, dataSource: 'assigned' };
  return {
    backend: name,
    examples,
    heldOut: shard.data.heldOut,
    dataSource: 'assigned',
    assignedIndex: shard.index,
    scenario: shard.scenario,
  };
}

/** The data changed (source switch, a new shard, more digits): the next round uses it, and the hub hears of it. */
function dataChanged(): void {
  participant?.setData(localData());
  tryIt.invalidate();
  if (!BUSY.has(page.status.state) && page.status.state !== 'connecting') setStatus(idleStatus());
  void session?.hello();
}

async function useShard(scenario: ScenarioSpec, index: number): Promise<void> {
  const data = await loadShard(scenario, index);
  page.shard = { scenario, index, data };
  dataSourceView.assignedInfo.textContent =
    `Participant ${index} of ${scenario.participants} in scenario ${scenario.name} (seed ${scenario.seed})${data.heldOut ? ', held out: evaluates, never trains' : ''}${data.validation ? ', validation: takes part in no run' : ''}: ` +
    `${data.description}; ${data.support.count} support, ${data.query.count} query, ${data.test.count} test.`;
}

async function onWelcome(welcome: Welcome): Promise<void> {
  idText.textContent = welcome.participantId;
  if (welcome.assignment && (await adopt(welcome.assignment))) return;
  if (!BUSY.has(page.status.state)) setStatus(idleStatus());
}

/**
 * Loads a shard the hub assigned (on joining, or when a run on another scenario starts) and says hello again
 * holding it; true when it did. A tab whose URL pins its shard, or that trains on its own digits, keeps its data.
 */
async function adopt(assignment: Assignment): Promise<boolean> {
  if (page.source !== 'assigned' || sameAssignment(page.shard, assignment)) return false;
  const { scenario, index } = assignment;
  if (url.shard) {
    note(
      `the hub offered participant ${index} of scenario ${scenario.name}; this tab's address pins its shard, so runs on that scenario will not select it`,
    );
    return false;
  }
  try {
    if (!BUSY.has(page.status.state))
      setStatus({ state: 'waiting', message: `loading assigned data (participant ${index} of ${scenario.name})` });
    await useShard(scenario, index);
    note(`the hub assigned participant ${index} of scenario ${scenario.name}`);
    dataChanged(); // says hello again, now holding the shard
  } catch (error) {
    setStatus({ state: 'error', message: `could not load the assigned data: ${errorMessage(error)}` });
  }
  return true;
}

async function prepare(task: RoundTask): Promise<void> {
  const { backend } = page;
  if (!backend) throw new Error('no backend');
  const kind = task.model.kind;
  if (canTrain(backend.backend, kind)) return;
  if (backend.forced) throw new Error(`${WASM_CNN_REASON}, and ?backend=${backend.backend} asks for exactly this backend`);
  const choice = chooseBackend(backend.probes, kind);
  await activateBackend(choice.backend);
  await trainer?.backend(choice.backend);
  page.backend = { ...backend, backend: choice.backend, reason: `switched for this ${kind.toUpperCase()} run: ${choice.reason}` };
  backendView.show(page.backend);
  note(`backend switched to ${BACKEND_LABEL[choice.backend]}: ${WASM_CNN_REASON}`);
}

// ---- the page ---------------------------------------------------------------------------------------

const dataSourceView = new DataSourceView(page.source, (next) => {
  page.source = next;
  try {
    localStorage.setItem(SOURCE_KEY, next);
  } catch {
    // storage disabled: the choice lasts for this page only
  }
  ownSection.hidden = next !== 'own';
  dataChanged();
});
let store: OwnDigitStore | null = null;
try {
  store = await OwnDigitStore.open();
} catch (error) {
  note(`IndexedDB unavailable: ${errorMessage(error)}`);
}
const ownPanel = new OwnDataPanel(store, (digits) => {
  page.ownDigits = digits;
  if (page.source === 'own') dataChanged();
  else tryIt.invalidate();
});
const tryIt = new TryIt(() => localData()?.support ?? null);
const ownSection = h('div', { hidden: page.source !== 'own' }, ownPanel.element);
const metaTest = new MetaTest(() => localData(), heads);

byId('status').append(
  stateView.element,
  participationView.element,
  guaranteeView.element,
  headView.element,
  h('p', { className: 'muted' }, 'Participant id: ', idText),
  notes,
);
byId('backend-panel').append(backendView.element);
byId('data-panel').append(dataSourceView.element, ownSection);
byId('history-panel').append(historyView.element);
byId('meta-panel').append(metaTest.element);
byId('try-panel').append(tryIt.element);
setStatus(page.status);
for (const error of url.errors) note(error);

await ownPanel.load();
try {
  page.backend = await selectBackend(url.backend);
  backendView.show(page.backend);
} catch (error) {
  backendView.fail(errorMessage(error));
  setStatus({ state: 'error', message: errorMessage(error) });
}

if (page.backend) {
  if (url.shard) {
    try {
      setStatus({ state: 'connecting', message: 'building the assigned data' });
      await useShard(url.shard.scenario, url.shard.index);
    } catch (error) {
      note(`could not build participant ${url.shard.index}: ${errorMessage(error)}`);
    }
  }
  if (url.runtime === 'worker') {
    // The page chose the backend; the worker initialises the same one, or the tab trains here and says why.
    const worker = new TrainingWorker();
    try {
      await worker.backend(page.backend.backend);
      trainer = worker;
      note(`training runs in a Worker (${BACKEND_LABEL[page.backend.backend]}): this page stays responsive while the tab trains`);
    } catch (error) {
      worker.terminate();
      note(`training stays on this page: ${BACKEND_LABEL[page.backend.backend]} cannot run in a Worker here (${errorMessage(error)})`);
    }
  }
  setStatus({ state: 'connecting', message: 'joining the hub' });
  const hub = openHubSession({
    credentials: identity,
    hello: helloBody,
    onWelcome: (welcome) => void onWelcome(welcome),
    onConnectionProblem: (message) => {
      note(message);
      if (!BUSY.has(page.status.state)) setStatus({ state: 'connecting', message });
    },
    onHelloRefused: (refusal) => setStatus({ state: 'error', message: refusalMessage(refusal) }),
    onFarewell: (notice) => setStatus({ state: 'error', message: `the hub closed this tab's connection: ${notice.reason}` }),
    onRoundCancelled: (info) => {
      note(`round ${info.round} cancelled: ${info.reason}`);
      // A masked update waiting for the hub's stages is no longer wanted: its secrets go, and the tab is idle.
      const dropped = participant?.roundCancelled(info.runId, info.round) ?? false;
      if (dropped || !BUSY.has(page.status.state)) setStatus(idleStatus());
    },
    onAssign: (assignment) => void adopt(assignment),
    onMoved: (from, to) => {
      hubUrl = to;
      note(`the hub at ${from} cannot be reached: moved to ${to}`);
    },
  });
  const runtime = new Participant({
    channel: hub,
    data: localData(),
    onStatus: setStatus,
    onRound: (record) => {
      if (record.accepted && record.mode === 'fit') participation.roundDone();
      applyParticipation();
      historyView.render(runtime.history);
      void guaranteeView.refresh();
      if (!record.accepted) note(`round ${record.round} rejected: ${record.error ?? 'no reason given'}`);
    },
    prepare,
    // "Try it" predicts with the latest global model: its weights without Meta-SGD's rates, and under a personal
    // head the global body with this tab's latest head (a fresh one before it has any).
    onWeights: (task, weights) => {
      headView.showTask(task.runId, task.model, task.algorithm);
      const local = localModel(task.model, task.algorithm, weights, heads.cached(task.runId));
      tryIt.setModel({
        key: `${task.runId}/${task.round}/${task.modelVersion}`,
        spec: task.model,
        hyper: task.hyper,
        weights: local.weights,
        adaptFrom: local.adaptFrom,
      });
    },
    heads,
    yieldToUi: createYielder(),
    ...(trainer
      ? {
          clientUpdate: (input) => trainer!.clientUpdate(input),
          adaptationCurve: (spec, weights, support, test, options) => trainer!.adaptationCurve(spec, weights, support, test, options),
        }
      : {}),
  });
  session = hub;
  participant = runtime;
  runtime.start();
  applyParticipation();
  if (!participation.settings.left) hub.connect();
  guaranteeView.start();
  // A tab without a shard asks again now and then: a run with a scenario may have started meanwhile.
  setInterval(() => {
    if (page.source === 'assigned' && !page.shard && hub.connected) void hub.hello();
  }, REASK_MS);
}
