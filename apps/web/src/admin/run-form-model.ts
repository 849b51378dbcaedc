/**
 * The run form as data: which fields exist, when they apply, and the two-way mapping between the form's
 * string values and a RunConfigInput. Pure (no DOM), so the mapping and validation are unit-tested.
 */
import {
  AGGREGATIONS,
  CODECS,
  ALGORITHMS,
  DEFAULT_CLIENT_HYPER,
  MNIST_CNN,
  MNIST_MLP,
  RunConfigSchema,
  SCENARIOS,
  SERVER_OPTIMIZERS,
  SINUSOID_MLP,
  keepsHead,
  parseOrError,
  presetRunConfig,
  type Algorithm,
  type ModelSpec,
  type RunConfig,
  type RunConfigInput,
} from '@tabula/core/protocol';

export type FormValues = Record<string, string>;
export type FieldKind = 'text' | 'int' | 'number' | 'select' | 'list';

export interface FieldDef {
  /** The config path, e.g. 'client.innerLr'; also the input's name. */
  readonly key: string;
  readonly label: string;
  readonly kind: FieldKind;
  readonly group: 'Run' | 'Model' | 'Scenario' | 'Rounds' | 'Client' | 'Server' | 'Privacy';
  readonly options?: readonly string[];
  /** Blank means "not set" (the hub's default or none). */
  readonly optional?: boolean;
  readonly hint?: string;
  /** Shown and submitted only when this holds. */
  readonly when?: (values: FormValues) => boolean;
}

/** No scenario: participants bring their own data (drawn digits). */
export const NO_SCENARIO = 'none';

const hasScenario = (v: FormValues) => v['scenario.name'] !== NO_SCENARIO;
/** fedrep and fedper keep the model's last layers on each participant. */
const keepsHeadOf = (v: FormValues) =>
  (ALGORITHMS as readonly string[]).includes(v['algorithm'] ?? '') && keepsHead(v['algorithm'] as Algorithm);

const secure = (v: FormValues) => v['secureAggregation'] === 'yes';

export const FIELDS: readonly FieldDef[] = [
  { key: 'name', label: 'Run name', kind: 'text', group: 'Run', optional: true },
  { key: 'algorithm', label: 'Algorithm', kind: 'select', group: 'Run', options: ALGORITHMS },
  { key: 'seed', label: 'Run seed', kind: 'int', group: 'Run' },
  { key: 'codec', label: 'Update codec', kind: 'select', group: 'Run', options: CODECS },
  { key: 'maxUpdateNorm', label: 'Max update norm', kind: 'number', group: 'Run', optional: true, hint: 'blank: no bound' },
  { key: 'model.kind', label: 'Model', kind: 'select', group: 'Model', options: ['mlp', 'cnn'] },
  {
    key: 'model.hidden',
    label: 'Hidden units',
    kind: 'list',
    group: 'Model',
    hint: 'comma-separated, e.g. 100 or 40,40',
    when: (v) => v['model.kind'] === 'mlp',
  },
  {
    key: 'model.filters',
    label: 'Conv filters',
    kind: 'list',
    group: 'Model',
    hint: 'comma-separated, e.g. 8,16',
    when: (v) => v['model.kind'] === 'cnn',
  },
  {
    key: 'model.head',
    label: 'Personal head layers',
    kind: 'int',
    group: 'Model',
    optional: true,
    hint: 'the last layers each participant keeps and never shares; blank: 1 (the output layer)',
    when: keepsHeadOf,
  },
  {
    key: 'scenario.name',
    label: 'Scenario',
    kind: 'select',
    group: 'Scenario',
    options: [...SCENARIOS, NO_SCENARIO],
    hint: 'none: tabs bring their own digits',
  },
  { key: 'scenario.participants', label: 'Simulated participants', kind: 'int', group: 'Scenario', when: hasScenario },
  { key: 'scenario.seed', label: 'Data seed', kind: 'int', group: 'Scenario', when: hasScenario },
  {
    key: 'scenario.heldOut',
    label: 'Held-out participants',
    kind: 'int',
    group: 'Scenario',
    optional: true,
    hint: 'blank: 10%',
    when: hasScenario,
  },
  {
    key: 'scenario.validation',
    label: 'Validation participants',
    kind: 'int',
    group: 'Scenario',
    optional: true,
    hint: 'never train nor join the meta-test; blank: none',
    when: hasScenario,
  },
  {
    key: 'scenario.supportShots',
    label: 'Support shots',
    kind: 'int',
    group: 'Scenario',
    optional: true,
    hint: 'few-shot: support digits per participant; blank: half its digits',
    when: (v) => hasScenario(v) && v['scenario.name'] !== 'sinusoid',
  },
  {
    key: 'scenario.labelPermutations',
    label: 'Label permutations',
    kind: 'int',
    group: 'Scenario',
    optional: true,
    hint: 'trainers in this many groups, each naming the digits its own way; newcomers get unseen namings; blank: none',
    when: (v) => hasScenario(v) && v['scenario.name'] !== 'sinusoid',
  },
  {
    key: 'scenario.dirichletAlpha',
    label: 'Dirichlet alpha',
    kind: 'number',
    group: 'Scenario',
    optional: true,
    hint: 'label skew; blank: default',
    when: (v) => v['scenario.name'] === 'dirichlet' || v['scenario.name'] === 'rotated',
  },
  {
    key: 'scenario.kShot',
    label: 'K-shot',
    kind: 'int',
    group: 'Scenario',
    optional: true,
    when: (v) => v['scenario.name'] === 'sinusoid',
  },
  {
    key: 'scenario.freshPoints',
    label: 'Fresh points each round',
    kind: 'select',
    group: 'Scenario',
    options: ['no', 'yes'],
    when: (v) => v['scenario.name'] === 'sinusoid',
  },
  { key: 'rounds', label: 'Rounds', kind: 'int', group: 'Rounds' },
  { key: 'perRound', label: 'Participants per round', kind: 'int', group: 'Rounds', optional: true, hint: 'blank: the fraction below' },
  { key: 'fraction', label: 'Fraction of ready participants', kind: 'number', group: 'Rounds' },
  { key: 'minParticipants', label: 'Minimum participants', kind: 'int', group: 'Rounds' },
  { key: 'waitForParticipantsMs', label: 'Wait for participants (ms)', kind: 'int', group: 'Rounds' },
  { key: 'roundDeadlineMs', label: 'Round deadline (ms)', kind: 'int', group: 'Rounds' },
  { key: 'evaluateEvery', label: 'Evaluation interval', hint: 'evaluate every N rounds (and the last)', kind: 'int', group: 'Rounds' },
  { key: 'client.batchSize', label: 'Batch size', kind: 'int', group: 'Client' },
  { key: 'client.lr', label: 'Local learning rate', kind: 'number', group: 'Client' },
  { key: 'client.localEpochs', label: 'Local epochs', kind: 'int', group: 'Client' },
  {
    key: 'client.headEpochs',
    label: 'Head epochs',
    kind: 'int',
    group: 'Client',
    hint: 'epochs fitting the personal head alone before the body’s local epochs',
    when: (v) => v['algorithm'] === 'fedrep',
  },
  { key: 'client.innerLr', label: 'Inner learning rate', kind: 'number', group: 'Client' },
  { key: 'client.innerSteps', label: 'Inner steps', kind: 'int', group: 'Client' },
  { key: 'client.outerLr', label: 'Outer learning rate', kind: 'number', group: 'Client' },
  { key: 'client.metaSteps', label: 'Meta steps', kind: 'int', group: 'Client' },
  { key: 'client.adaptSteps', label: 'Adaptation steps', kind: 'int', group: 'Client' },
  { key: 'server.kind', label: 'Server optimizer', kind: 'select', group: 'Server', options: SERVER_OPTIMIZERS },
  { key: 'server.lr', label: 'Server learning rate', kind: 'number', group: 'Server' },
  { key: 'server.momentum', label: 'Server momentum', kind: 'number', group: 'Server', when: (v) => v['server.kind'] === 'fedavgm' },
  { key: 'server.beta1', label: 'Adam beta1', kind: 'number', group: 'Server', when: (v) => v['server.kind'] === 'fedadam' },
  { key: 'server.beta2', label: 'Adam beta2', kind: 'number', group: 'Server', when: (v) => v['server.kind'] === 'fedadam' },
  { key: 'server.tau', label: 'Adam tau', kind: 'number', group: 'Server', when: (v) => v['server.kind'] === 'fedadam' },
  {
    key: 'aggregation.kind',
    label: 'Aggregation',
    kind: 'select',
    group: 'Server',
    options: AGGREGATIONS,
    hint: 'fedavg: weighted by examples; trimmed-mean, median: robust to a few bad updates, unweighted, keep every delta',
  },
  {
    key: 'aggregation.trim',
    label: 'Trimmed per side',
    kind: 'number',
    group: 'Server',
    hint: 'share of the largest and of the smallest values, < 0.5',
    when: (v) => v['aggregation.kind'] === 'trimmed-mean',
  },
  {
    key: 'secureAggregation',
    label: 'Secure aggregation',
    kind: 'select',
    group: 'Privacy',
    options: ['no', 'yes'],
    hint: 'tabs mask their updates after training; needs fedavg, the float32 codec and no max update norm',
  },
  {
    key: 'secureAggregation.clip',
    label: 'Clip per coordinate',
    kind: 'number',
    group: 'Privacy',
    hint: 'bound on each weighted delta coordinate before it is rounded into the 32-bit ring',
    when: secure,
  },
  {
    key: 'secureAggregation.maxExamples',
    label: 'Examples of weight 1',
    kind: 'int',
    group: 'Privacy',
    hint: 'a tab weighs min(examples, this) / this: near the tabs’ counts keeps the ring’s steps fine',
    when: secure,
  },
  {
    key: 'secureAggregation.maxGroup',
    label: 'Largest group',
    kind: 'int',
    group: 'Privacy',
    hint: 'tabs masked together, at most 255; sizes the ring',
    when: secure,
  },
  {
    key: 'secureAggregation.neighbours',
    label: 'Neighbours per tab (SecAgg+)',
    kind: 'int',
    group: 'Privacy',
    optional: true,
    hint: 'even; each tab shares with and masks against this many; blank: every other tab',
    when: secure,
  },
  {
    key: 'secureAggregation.threshold',
    label: 'Shares to rebuild a secret',
    kind: 'int',
    group: 'Privacy',
    optional: true,
    hint: 'blank: a majority of each tab’s holders',
    when: secure,
  },
  {
    key: 'secureAggregation.minSurvivors',
    label: 'Fewest survivors',
    kind: 'int',
    group: 'Privacy',
    hint: 'fewer masked updates abort the attempt (at least 3)',
    when: secure,
  },
  {
    key: 'secureAggregation.stageTimeoutMs',
    label: 'Stage timeout (ms)',
    kind: 'int',
    group: 'Privacy',
    hint: 'a tab silent this long in a stage counts as dropped',
    when: secure,
  },
];

export function fieldVisible(field: FieldDef, values: FormValues): boolean {
  return field.when ? field.when(values) : true;
}

/** Server-optimizer settings for the kinds not in the preset: the schema's own defaults. */
const SERVER_DEFAULTS: FormValues = {
  'secureAggregation.clip': '1',
  'secureAggregation.maxExamples': '10000',
  'secureAggregation.maxGroup': '100',
  'secureAggregation.neighbours': '',
  'secureAggregation.threshold': '',
  'secureAggregation.minSurvivors': '3',
  'secureAggregation.stageTimeoutMs': '10000',
  'server.momentum': '0.9',
  'server.beta1': '0.9',
  'server.beta2': '0.99',
  'server.tau': '0.001',
  'aggregation.trim': '0.1',
};

/** The form's starting values: core's preset for this scenario and algorithm, every default filled in. */
export function presetValues(scenario: string, algorithm: Algorithm): FormValues {
  const own = scenario === NO_SCENARIO;
  const preset = presetRunConfig(own ? 'iid' : (scenario as (typeof SCENARIOS)[number]), algorithm);
  const input: RunConfigInput = own ? withoutScenario(preset) : preset;
  const parsed = RunConfigSchema.safeParse(input);
  const values = configToValues(parsed.success ? parsed.data : input);
  if (own) values['scenario.name'] = NO_SCENARIO;
  return values;
}

function withoutScenario(config: RunConfigInput): RunConfigInput {
  const { scenario: _dropped, ...rest } = config;
  return rest;
}

/** A config (parsed or input) -> the form's strings. */
export function configToValues(config: RunConfigInput | RunConfig): FormValues {
  const client = { ...DEFAULT_CLIENT_HYPER, ...config.client };
  const server = config.server ?? { kind: 'sgd', lr: 1 };
  const model = config.model;
  const text = (v: number | string | undefined | null) => (v === undefined || v === null ? '' : String(v));
  const values: FormValues = {
    ...SERVER_DEFAULTS,
    name: text(config.name),
    algorithm: config.algorithm,
    seed: text(config.seed ?? 1),
    codec: text(config.codec ?? 'float32'),
    maxUpdateNorm: text(config.maxUpdateNorm),
    'model.kind': model.kind,
    'model.hidden': model.kind === 'mlp' ? model.hidden.join(',') : MNIST_MLP.hidden.join(','),
    'model.filters': model.kind === 'cnn' ? model.filters.join(',') : MNIST_CNN.filters.join(','),
    'model.head': text(model.head),
    'scenario.name': config.scenario?.name ?? NO_SCENARIO,
    'scenario.participants': text(config.scenario?.participants ?? 10),
    'scenario.seed': text(config.scenario?.seed ?? 1),
    'scenario.heldOut': text(config.scenario?.heldOut),
    'scenario.dirichletAlpha': text(config.scenario?.dirichletAlpha),
    'scenario.kShot': text(config.scenario?.kShot),
    'scenario.validation': text(config.scenario?.validation),
    'scenario.supportShots': text(config.scenario?.supportShots),
    'scenario.labelPermutations': text(config.scenario?.labelPermutations),
    'scenario.freshPoints': config.scenario?.freshPoints ? 'yes' : 'no',
    rounds: text(config.rounds),
    perRound: text(config.perRound),
    fraction: text(config.fraction ?? 1),
    minParticipants: text(config.minParticipants ?? 1),
    waitForParticipantsMs: text(config.waitForParticipantsMs ?? 60_000),
    roundDeadlineMs: text(config.roundDeadlineMs ?? 120_000),
    evaluateEvery: text(config.evaluateEvery ?? 1),
    'server.kind': server.kind,
    'server.lr': text(server.lr),
    'aggregation.kind': config.aggregation?.kind ?? 'fedavg',
    secureAggregation: config.secureAggregation ? 'yes' : 'no',
  };
  for (const [key, value] of Object.entries(config.secureAggregation ?? {})) values[`secureAggregation.${key}`] = text(value);
  if (config.aggregation?.kind === 'trimmed-mean') values['aggregation.trim'] = text(config.aggregation.trim);
  for (const key of Object.keys(client) as (keyof typeof client)[]) values[`client.${key}`] = text(client[key]);
  if (server.kind === 'fedavgm') values['server.momentum'] = text(server.momentum);
  if (server.kind === 'fedadam') {
    values['server.beta1'] = text(server.beta1);
    values['server.beta2'] = text(server.beta2);
    values['server.tau'] = text(server.tau);
  }
  return values;
}

/** '' -> undefined, anything else -> a number (NaN for junk: the schema then names the field). */
function num(value: string | undefined): number | undefined {
  const trimmed = (value ?? '').trim();
  return trimmed === '' ? undefined : Number(trimmed);
}

function list(value: string | undefined): number[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
}

/**
 * The model spec for the chosen kind; input shape, outputs and task follow from the scenario's data. `head`: the
 * personal head's layer count where the algorithm keeps one and the field is filled in.
 */
function modelFor(values: FormValues, head: number | undefined): ModelSpec {
  const regression = values['scenario.name'] === 'sinusoid';
  const base = regression ? SINUSOID_MLP : MNIST_MLP;
  const personal = head === undefined ? {} : { head };
  if (values['model.kind'] === 'cnn') {
    return {
      ...MNIST_CNN,
      inputShape: base.inputShape as unknown as [number, number, number],
      outputs: base.outputs,
      task: base.task,
      filters: list(values['model.filters']),
      ...personal,
    };
  }
  return { ...base, hidden: list(values['model.hidden']), ...personal };
}

/** The form's strings -> the RunConfigInput it describes (fields that do not apply are left out). */
export function valuesToConfig(values: FormValues): RunConfigInput {
  const visible = (key: string) => {
    const field = FIELDS.find((f) => f.key === key);
    return !field || fieldVisible(field, values);
  };
  const pick = (key: string) => (visible(key) ? num(values[key]) : undefined);
  const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

  const serverKind = values['server.kind'] ?? 'sgd';
  const server =
    serverKind === 'fedavgm'
      ? defined({ kind: 'fedavgm' as const, lr: pick('server.lr'), momentum: pick('server.momentum') })
      : serverKind === 'fedadam'
        ? defined({
            kind: 'fedadam' as const,
            lr: pick('server.lr'),
            beta1: pick('server.beta1'),
            beta2: pick('server.beta2'),
            tau: pick('server.tau'),
          })
        : defined({ kind: 'sgd' as const, lr: pick('server.lr') });

  const aggregationKind = values['aggregation.kind'] ?? 'fedavg';
  const aggregation =
    aggregationKind === 'trimmed-mean'
      ? defined({ kind: 'trimmed-mean' as const, trim: pick('aggregation.trim') })
      : aggregationKind === 'median'
        ? { kind: 'median' as const }
        : { kind: 'fedavg' as const };

  const scenarioName = values['scenario.name'] ?? NO_SCENARIO;
  const scenario =
    scenarioName === NO_SCENARIO
      ? undefined
      : defined({
          name: scenarioName as (typeof SCENARIOS)[number],
          participants: pick('scenario.participants') as number,
          seed: pick('scenario.seed'),
          heldOut: pick('scenario.heldOut'),
          dirichletAlpha: pick('scenario.dirichletAlpha'),
          kShot: pick('scenario.kShot'),
          validation: pick('scenario.validation'),
          supportShots: pick('scenario.supportShots'),
          labelPermutations: pick('scenario.labelPermutations'),
          freshPoints: visible('scenario.freshPoints') && values['scenario.freshPoints'] === 'yes' ? true : undefined,
        });

  const client = defined({
    batchSize: pick('client.batchSize'),
    lr: pick('client.lr'),
    localEpochs: pick('client.localEpochs'),
    headEpochs: pick('client.headEpochs'),
    innerLr: pick('client.innerLr'),
    innerSteps: pick('client.innerSteps'),
    outerLr: pick('client.outerLr'),
    metaSteps: pick('client.metaSteps'),
    adaptSteps: pick('client.adaptSteps'),
  });

  return defined({
    name: (values['name'] ?? '').trim() || undefined,
    algorithm: values['algorithm'] as Algorithm,
    model: modelFor(values, pick('model.head')),
    scenario,
    rounds: pick('rounds') as number,
    perRound: pick('perRound'),
    fraction: pick('fraction'),
    minParticipants: pick('minParticipants'),
    waitForParticipantsMs: pick('waitForParticipantsMs'),
    roundDeadlineMs: pick('roundDeadlineMs'),
    client,
    server,
    aggregation,
    codec: values['codec'] as RunConfigInput['codec'],
    maxUpdateNorm: pick('maxUpdateNorm'),
    seed: pick('seed'),
    evaluateEvery: pick('evaluateEvery'),
    secureAggregation: secure(values)
      ? defined({
          clip: pick('secureAggregation.clip'),
          maxExamples: pick('secureAggregation.maxExamples'),
          maxGroup: pick('secureAggregation.maxGroup'),
          neighbours: pick('secureAggregation.neighbours'),
          threshold: pick('secureAggregation.threshold'),
          minSurvivors: pick('secureAggregation.minSurvivors'),
          stageTimeoutMs: pick('secureAggregation.stageTimeoutMs'),
        })
      : undefined,
  });
}

export type FormCheck =
  | { ok: true; config: RunConfig; input: RunConfigInput }
  | { ok: false; summary: string; fieldErrors: Record<string, string>; formErrors: string[] };

/**
 * Validates with core's RunConfigSchema, as the hub will. `summary` is parseOrError's "path: message; ..."
 * text; each issue is also placed at the field it concerns (or the first field of its group, e.g. a
 * 'model.task' issue at the Model field), and issues no field owns are form errors.
 */
export function checkValues(values: FormValues): FormCheck {
  const input = valuesToConfig(values);
  const parsed = parseOrError(RunConfigSchema, input);
  if (parsed.ok) return { ok: true, config: parsed.data, input };
  const fieldErrors: Record<string, string> = {};
  const formErrors: string[] = [];
  const result = RunConfigSchema.safeParse(input);
  for (const issue of result.success ? [] : result.error.issues) {
    const path = issue.path.map(String).join('.');
    const key = fieldFor(path, values);
    const message = `${path || '(root)'}: ${issue.message}`;
    if (key) fieldErrors[key] = fieldErrors[key] ? `${fieldErrors[key]}; ${message}` : message;
    else formErrors.push(message);
  }
  return { ok: false, summary: parsed.error, fieldErrors, formErrors };
}

/** The visible field an issue path belongs to. */
export function fieldFor(path: string, values: FormValues): string | null {
  const visible = FIELDS.filter((f) => fieldVisible(f, values));
  // The most specific field: 'secureAggregation.neighbours' rather than the 'secureAggregation' switch.
  const exact =
    visible.find((f) => f.key === path) ??
    visible.filter((f) => path.startsWith(`${f.key}.`)).sort((a, b) => b.key.length - a.key.length)[0];
  if (exact) return exact.key;
  const head = path.split('.')[0] ?? '';
  const groupField = visible.find((f) => f.key.startsWith(`${head}.`));
  if (groupField) return head === 'model' ? 'model.kind' : groupField.key;
  return null;
}

/** The hub answers schema problems as parseOrError text ("path: message; ..."): place them at their fields too. */
export function hubFieldErrors(message: string, values: FormValues): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const part of message.split('; ')) {
    const match = /^([A-Za-z0-9_.]+): (.+)$/.exec(part);
    const key = match ? fieldFor(match[1] ?? '', values) : null;
    if (key) errors[key] = errors[key] ? `${errors[key]}; ${part}` : part;
  }
  return errors;
}
