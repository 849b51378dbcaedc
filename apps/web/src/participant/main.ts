import '../shared/no-eval.js';
import { tf, type Assignment, type LocalData, type ParticipantData, type RoundTask, type ScenarioSpec, type Welcome } from '@tabula/core';
import '../shared/style.css';
import { byId, errorMessage, h } from '../shared/dom.js';
import { loadShard, sameShard } from './assigned-data.js';
import { activateBackend, measureBackend, selectBackend, type BackendReport } from './backend.js';
import { BACKEND_LABEL, canTrain, chooseBackend, WASM_CNN_REASON } from './backend-choice.js';
import { BackendView } from './backend-view.js';
import { DataSourceView, type DataSource } from './data-source-view.js';
import { HistoryView } from './history-view.js';
import { HubLink, type HelloBody } from './hub-link.js';
import { Identity } from './identity.js';
import { OwnDataPanel } from './own-data-panel.js';
import { MIN_OWN_EXAMPLES, splitOwnData, type OwnDigit } from './own-data.js';
import { OwnDigitStore } from './own-store.js';
import { MetaTest } from './meta-test.js';
import { RoundRunner } from './round-runner.js';
import { StateView, type ViewStatus } from './state-view.js';
import { installHook } from './test-hook.js';
import { TryIt } from './try-it.js';
import { parseUrlOptions } from './url-options.js';

const SOURCE_KEY = 'tabula.dataSource';
/** While the hub has no shard to hand out (no run yet), ask again this often. */
const REASK_MS = 5_000;
const BUSY = new Set(['downloading', 'evaluating', 'training', 'uploading']);

const url = parseUrlOptions(location.search);
const identity = await Identity.claim();
const stateView = new StateView();
const backendView = new BackendView();
const historyView = new HistoryView();
const idText = h('span', { 'data-testid': 'participant-id', text: identity.id ?? '(new: the hub assigns one)' });
const notes = h('ul', { className: 'notes', 'aria-live': 'polite' });

let source: DataSource = url.shard ? 'assigned' : storedSource() === 'own' ? 'own' : 'assigned';
let shard: { scenario: ScenarioSpec; index: number; data: ParticipantData } | null = null;
let ownDigits: readonly OwnDigit[] = [];
let backend: BackendReport | null = null;
let status: ViewStatus = { state: 'connecting', message: 'choosing a backend' };
let link: HubLink | null = null;
let runner: RoundRunner | null = null;

const hook = installHook({ backend: null, participantId: identity.id, state: status.state, status, history: [], dataSource: source, examples: 0, tf, measure: measureBackend });

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
  const changed = next.state !== status.state || next.round !== status.round || next.message !== status.message;
  status = next;
  hook.state = next.state;
  hook.status = next;
  stateView.show(next);
  if (changed) reportStatus();
}

function idleStatus(): ViewStatus {
  const data = localData();
  if (data) return { state: 'waiting' };
  if (source === 'own') return { state: 'waiting', message: `draw or upload at least ${MIN_OWN_EXAMPLES} digits to take part` };
  return { state: 'waiting', message: 'no simulation data assigned yet (the hub assigns a shard once a run has a scenario)' };
}

function localData(): LocalData | null {
  if (source === 'assigned') return shard ? { support: shard.data.support, query: shard.data.query, test: shard.data.test, heldOut: shard.data.heldOut } : null;
  if (ownDigits.length < MIN_OWN_EXAMPLES) return null;
  const split = splitOwnData(ownDigits);
  return split ? { ...split, heldOut: false } : null;
}

function helloBody(): HelloBody {
  const name = backend?.backend ?? 'unknown';
  const data = localData();
  const examples = data ? data.support.count + data.query.count : 0;
  hook.examples = examples;
  if (source === 'own') return { backend: name, examples, heldOut: false, dataSource: 'own' };
  if (!shard) return { backend: name, examples: 0, heldOut: false, dataSource: 'assigned' };
  return { backend: name, examples, heldOut: shard.data.heldOut, dataSource: 'assigned', assignedIndex: shard.index, scenario: shard.scenario };
}

/** The data changed (source switch, a new shard, more digits): the next round uses it, and the hub hears of it. */
function dataChanged(): void {
  runner?.setData(localData());
  tryIt.invalidate();
  hook.dataSource = source;
  if (!BUSY.has(status.state) && status.state !== 'connecting') setStatus(idleStatus());
  void link?.sendHello();
}

async function useShard(scenario: ScenarioSpec, index: number): Promise<void> {
  const data = await loadShard(scenario, index);
  shard = { scenario, index, data };
  dataSourceView.assignedInfo.textContent =
    `Participant ${index} of ${scenario.participants} in scenario ${scenario.name} (seed ${scenario.seed})${data.heldOut ? ', held out: evaluates, never trains' : ''}: ` +
    `${data.description}; ${data.support.count} support, ${data.query.count} query, ${data.test.count} test.`;
}

async function onWelcome(welcome: Welcome): Promise<void> {
  hook.participantId = welcome.participantId;
  idText.textContent = welcome.participantId;
  runner?.welcome(welcome.maxMessageBytes);
  if (welcome.assignment && (await adopt(welcome.assignment))) return;
  if (!BUSY.has(status.state)) setStatus(idleStatus());
  reportStatus(); // the hub learns the state of a tab that just (re)joined
}

/**
 * Loads a shard the hub assigned (on joining, or when a run on another scenario starts) and says hello again
 * holding it; true when it did. A tab whose URL pins its shard, or that trains on its own digits, keeps its data.
 */
async function adopt(assignment: Assignment): Promise<boolean> {
  if (source !== 'assigned' || sameShard(shard, assignment)) return false;
  const { scenario, index } = assignment;
  if (url.shard) {
    note(`the hub offered participant ${index} of scenario ${scenario.name}; this tab's address pins its shard, so runs on that scenario will not select it`);
    return false;
  }
  try {
    if (!BUSY.has(status.state)) setStatus({ state: 'waiting', message: `loading assigned data (participant ${index} of ${scenario.name})` });
    await useShard(scenario, index);
    note(`the hub assigned participant ${index} of scenario ${scenario.name}`);
    dataChanged(); // says hello again, now holding the shard
  } catch (error) {
    setStatus({ state: 'error', message: `could not load the assigned data: ${errorMessage(error)}` });
  }
  return true;
}

function reportStatus(): void {
  link?.reportStatus({ state: status.state, ...(status.round !== undefined ? { round: status.round } : {}), ...(status.message ? { message: status.message } : {}) });
}

async function prepare(task: RoundTask): Promise<void> {
  if (!backend) throw new Error('no backend');
  const kind = task.model.kind;
  if (canTrain(backend.backend, kind)) return;
  if (backend.forced) throw new Error(`${WASM_CNN_REASON}, and ?backend=${backend.backend} asks for exactly this backend`);
  const choice = chooseBackend(backend.probes, kind);
  await activateBackend(choice.backend);
  backend = { ...backend, backend: choice.backend, reason: `switched for this ${kind.toUpperCase()} run: ${choice.reason}` };
  hook.backend = choice.backend;
  backendView.show(backend);
  note(`backend switched to ${BACKEND_LABEL[choice.backend]}: ${WASM_CNN_REASON}`);
}

// ---- the page ---------------------------------------------------------------------------------------

const dataSourceView = new DataSourceView(source, (next) => {
  source = next;
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
  ownDigits = digits;
  if (source === 'own') dataChanged();
  else tryIt.invalidate();
});
const tryIt = new TryIt(() => localData()?.support ?? null);
const ownSection = h('div', { hidden: source !== 'own' }, ownPanel.element);
const metaTest = new MetaTest(() => localData());

byId('status').append(stateView.element, h('p', { className: 'muted' }, 'Participant id: ', idText), notes);
byId('backend-panel').append(backendView.element);
byId('data-panel').append(dataSourceView.element, ownSection);
byId('history-panel').append(historyView.element);
byId('meta-panel').append(metaTest.element);
byId('try-panel').append(tryIt.element);
setStatus(status);
for (const error of url.errors) note(error);

await ownPanel.load();
try {
  backend = await selectBackend(url.backend);
  hook.backend = backend.backend;
  backendView.show(backend);
} catch (error) {
  backendView.fail(errorMessage(error));
  setStatus({ state: 'error', message: errorMessage(error) });
}

if (backend) {
  if (url.shard) {
    try {
      setStatus({ state: 'connecting', message: 'building the assigned data' });
      await useShard(url.shard.scenario, url.shard.index);
    } catch (error) {
      note(`could not build participant ${url.shard.index}: ${errorMessage(error)}`);
    }
  }
  setStatus({ state: 'connecting', message: 'joining the hub' });
  link = new HubLink(identity, helloBody, {
    onWelcome: (welcome) => void onWelcome(welcome),
    onConnectionProblem: (message) => {
      note(message);
      if (!BUSY.has(status.state)) setStatus({ state: 'connecting', message });
    },
    onHelloRejected: (message) => setStatus({ state: 'error', message }),
    onFarewell: (message) => setStatus({ state: 'error', message }),
    onRoundCancelled: (message) => {
      note(message);
      if (!BUSY.has(status.state)) setStatus(idleStatus());
    },
    onAssign: (assignment) => void adopt(assignment),
  });
  runner = new RoundRunner(link.socket, {
    onStatus: (s) => setStatus(s),
    onRound: (record, history) => {
      hook.history = history;
      historyView.render(history);
      if (!record.accepted) note(`round ${record.round} rejected: ${record.error ?? 'no reason given'}`);
    },
    onModel: (snapshot) => tryIt.setModel(snapshot),
    prepare,
  });
  runner.setData(localData());
  link.connect();
  // A tab without a shard asks again now and then: a run with a scenario may have started meanwhile.
  setInterval(() => {
    if (source === 'assigned' && !shard && link?.connected) void link.sendHello();
  }, REASK_MS);
}
