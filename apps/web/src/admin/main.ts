import '../shared/no-eval.js';
import type { AdminSnapshot, ParticipantsDiff, RoundSummary, RunSummary } from '@tabula/core/protocol';
import '../shared/style.css';
import { byId, errorMessage, h, replaceChildren } from '../shared/dom.js';
import { AdminLink } from './admin-link.js';
import { HubApi } from './api.js';
import { federationOf, type Federation } from './federation.js';
import { LoginView } from './login-view.js';
import { ParticipantsTable } from './participants-table.js';
import { upsertRound } from './round-list.js';
import { RoundsView } from './rounds-view.js';
import { RunFormView } from './run-form-view.js';
import { CompareView, MAX_COMPARED } from './compare-view.js';
import type { RunWithRounds } from './comparison.js';
import { RunHistory } from './run-history.js';
import { RunStatusView } from './run-status-view.js';
import { clearToken, loadToken, saveToken } from './token.js';

const root = byId('admin');
const session = byId('session');
const api = new HubApi(loadToken);

let link: AdminLink | null = null;
let liveRun: RunSummary | null = null;
let liveRounds: RoundSummary[] = [];
/** A past run picked from the history, shown instead of the live one until "Back to the live run". */
let pinned: { run: RunSummary; rounds: RoundSummary[] } | null = null;

const login = new LoginView((token) => {
  saveToken(token);
  connect(token);
});
const connection = h('p', { className: 'form-error', role: 'status', 'data-testid': 'connection' });
const form = new RunFormView(
  async (config) => {
    if (!link) throw new Error('not connected');
    const run = await link.startRun(config);
    onRun(run);
  },
  async () => {
    if (!link || !liveRun) return;
    try {
      onRun(await link.stopRun(liveRun.id));
    } catch (error) {
      form.showFormError(`The hub could not stop the run: ${errorMessage(error)}`);
      form.setRunning(liveRun?.status === 'running');
    }
  },
);
const participants = new ParticipantsTable();
const runStatus = new RunStatusView((id) => void downloadCsv(id));
const rounds = new RoundsView();
const compare = new CompareView();
const history = new RunHistory(
  (id) => void showRun(id),
  (id) => void deleteRun(id),
  (id) => void resumeRun(id, (message) => history.showError(message)),
  (ids) => void compareRuns(ids),
  MAX_COMPARED,
);
const downloads = h(
  'p',
  {},
  h('a', { href: '/api/model/model.json', download: 'model.json', text: 'Download model (model.json)' }),
  ' and ',
  h('a', { href: '/api/model/weights.bin', download: 'weights.bin', text: 'weights (weights.bin)' }),
  h('span', {
    className: 'muted',
    text: ' — the current global model in the TF.js LayersModel format; keep both files in one folder and load model.json with tf.loadLayersModel. Under fedrep or fedper the hub holds only the shared body: the download adds a fresh head (zero output layer) to fit on your own data first.',
  }),
);

// Sections carry headings but no accessible names: names like "Model" or "Participants" would collide with
// the form's labels for getByLabel-style lookups (screen readers still navigate by the headings).
const section = (id: string, title: string, wide: boolean, ...content: HTMLElement[]) =>
  h('section', { className: wide ? 'wide' : '' }, h('h2', { id, text: title }), ...content);

const dashboard = [
  section('run-title', 'Run', true, runStatus.element, form.element),
  section('participants-title', 'Participants', true, participants.element),
  section('progress-title', 'Progress', true, rounds.element),
  section('history-title', 'Run history', true, history.element),
  section('compare-title', 'Compare runs', true, compare.element),
  section('model-title', 'Download the global model', true, downloads),
];

function showLogin(error = ''): void {
  replaceChildren(root, connection, login.element);
  replaceChildren(session);
  login.showError(error);
}

function showDashboard(): void {
  if (root.contains(dashboard[0] ?? null)) return;
  const signOut = h('button', { type: 'button', text: 'Sign out' });
  signOut.addEventListener('click', () => {
    link?.close();
    link = null;
    clearToken();
    showLogin();
  });
  replaceChildren(session, ' · ', signOut);
  replaceChildren(root, connection, ...dashboard);
}

function metricOf(run: RunSummary | null): 'accuracy' | 'mse' {
  return run?.config.model.task === 'regression' ? 'mse' : 'accuracy';
}

/** What each run federates and keeps on its participants, as the hub counts it: a run's config never changes. */
const federations = new Map<string, Federation | null>();

function remember(detail: RunSummary): void {
  federations.set(detail.id, federationOf(detail));
}

/** The hub's counts for `run`, fetched once (the run is shown again when they arrive). */
function federationFor(run: RunSummary | null): Federation | null {
  if (!run) return null;
  if (federations.has(run.id)) return federations.get(run.id) ?? null;
  federations.set(run.id, null);
  api.run(run.id).then(
    (detail) => {
      remember(detail);
      renderRun();
    },
    () => undefined, // the status line simply goes without the counts
  );
  return null;
}

function renderRun(): void {
  const shown = pinned ?? { run: liveRun, rounds: liveRounds };
  runStatus.render(
    shown.run,
    !pinned,
    () => {
      pinned = null;
      renderRun();
    },
    liveRun,
    (id) => void resumeRun(id, (message) => form.showFormError(message)),
    federationFor(shown.run),
    shown.rounds,
  );
  const privacy = shown.run?.config.privacy;
  rounds.render(shown.rounds, metricOf(shown.run), privacy ? { budget: privacy.epsilonBudget ?? null } : null);
  form.setRunning(liveRun?.status === 'running');
}

function onRun(run: RunSummary): void {
  if (liveRun?.id !== run.id) liveRounds = [];
  liveRun = run;
  renderRun();
  void refreshHistory();
}

function onRound(round: RoundSummary): void {
  if (liveRun && round.runId !== liveRun.id) return;
  liveRounds = upsertRound(liveRounds, round);
  renderRun();
}

/** Saves a run's rounds.csv, fetched with the token (a DP run's public CSV leaves the counts blank). */
async function downloadCsv(id: string): Promise<void> {
  try {
    const url = URL.createObjectURL(new Blob([await api.roundsCsv(id)], { type: 'text/csv' }));
    const link = h('a', { href: url, download: `${id}-rounds.csv` });
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (error) {
    form.showFormError(`Could not download the rounds: ${errorMessage(error)}`);
  }
}

async function refreshHistory(): Promise<void> {
  try {
    history.render(await api.runs());
  } catch (error) {
    history.showError(`Run history unavailable: ${errorMessage(error)}`);
  }
}

/** Details of compared runs, fetched once each (a finished run does not change). */
const comparedDetails = new Map<string, RunWithRounds>();
let compareRequest = 0;

async function compareRuns(ids: readonly string[]): Promise<void> {
  const request = ++compareRequest;
  try {
    const runs = await Promise.all(
      ids.map(async (id) => {
        const cached = comparedDetails.get(id);
        if (cached && cached.run.status !== 'running') return cached;
        const { rounds: past, ...run } = await api.run(id);
        remember(run);
        const detail = { run, rounds: past };
        comparedDetails.set(id, detail);
        return detail;
      }),
    );
    if (request === compareRequest) compare.render(runs);
  } catch (error) {
    history.showError(`Could not load runs to compare: ${errorMessage(error)}`);
  }
}

async function deleteRun(id: string): Promise<void> {
  if (!confirm(`Delete run ${id} with all its rounds and checkpoints? This cannot be undone.`)) return;
  try {
    await api.deleteRun(id);
    if (pinned?.run.id === id) {
      pinned = null;
      renderRun();
    }
    await refreshHistory();
  } catch (error) {
    history.showError(`Could not delete run ${id}: ${errorMessage(error)}`);
  }
}

/** The resumed run becomes the live one, with the rounds it already has. */
async function resumeRun(id: string, showError: (message: string) => void): Promise<void> {
  try {
    await api.resumeRun(id);
    const { rounds: past, ...run } = await api.run(id);
    remember(run);
    pinned = null;
    onRun(run);
    liveRounds = past;
    renderRun();
  } catch (error) {
    showError(`Could not resume run ${id}: ${errorMessage(error)}`);
  }
}

async function showRun(id: string): Promise<void> {
  if (id === liveRun?.id) {
    pinned = null;
    return renderRun();
  }
  try {
    const { rounds: past, ...run } = await api.run(id);
    remember(run);
    pinned = { run, rounds: past };
    renderRun();
  } catch (error) {
    history.showError(`Could not load run ${id}: ${errorMessage(error)}`);
  }
}

function connect(token: string): void {
  link?.close();
  link = new AdminLink(token, {
    onSnapshot(snapshot: AdminSnapshot) {
      showDashboard();
      participants.replace(snapshot.participants);
      liveRun = snapshot.run;
      liveRounds = snapshot.run ? snapshot.rounds.filter((r) => r.runId === snapshot.run?.id) : [];
      renderRun();
      void refreshHistory();
    },
    onParticipants: (diff: ParticipantsDiff) => participants.apply(diff),
    onRun,
    onRound,
    onAuthFailed(message) {
      link = null;
      clearToken();
      showLogin(`The hub refused the token: ${message}.`);
    },
    onConnection(problem) {
      connection.textContent = problem ?? '';
    },
  });
}

const saved = loadToken();
if (saved) {
  showLogin();
  connect(saved);
} else {
  showLogin();
}
