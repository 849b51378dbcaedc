import { ALGORITHMS, DEFAULT_CLIENT_HYPER, RunConfigSchema, presetRunConfig } from '@tabula/core/protocol';
import { describe, expect, it } from 'vitest';
import {
  FIELDS,
  NO_SCENARIO,
  checkValues,
  configToValues,
  fieldFor,
  fieldVisible,
  hubFieldErrors,
  presetValues,
  valuesToConfig,
} from './run-form-model.js';

describe('presetValues', () => {
  it('fills every field from presetRunConfig and the schema defaults', () => {
    // Execute
    const values = presetValues('shards', 'reptile');
    // Assert
    expect(values['algorithm']).toBe('reptile');
    expect(values['scenario.name']).toBe('shards');
    expect(values['scenario.participants']).toBe('40');
    expect(values['rounds']).toBe('30');
    expect(values['perRound']).toBe('10');
    expect(values['client.outerLr']).toBe('1');
    expect(values['roundDeadlineMs']).toBe('120000');
    expect(values['model.hidden']).toBe('100');
    for (const field of FIELDS) expect(values[field.key], field.key).toBeDefined();
  });

  it('round-trips: preset -> form values -> the same parsed config', () => {
    for (const [scenario, algorithm] of [
      ['rotated', 'fomaml'],
      ['sinusoid', 'maml'],
      ['iid', 'fedavg'],
      ['sinusoid', 'meta-sgd'],
      ['shards', 'per-fedavg-hf'],
      ['dirichlet', 'per-fedavg-fo'],
      ['sinusoid', 'fedrep'],
      ['shards', 'fedper'],
    ] as const) {
      const expected = RunConfigSchema.parse(presetRunConfig(scenario, algorithm));
      // The form leaves out settings its algorithm does not read (head epochs: fedrep's): the default stands in.
      if (algorithm !== 'fedrep') expected.client.headEpochs = DEFAULT_CLIENT_HYPER.headEpochs;
      const check = checkValues(presetValues(scenario, algorithm));
      expect(check.ok, scenario).toBe(true);
      if (check.ok) expect(check.config).toEqual(expected);
    }
  });

  it('offers a run without a scenario (tabs bring their own data)', () => {
    const values = presetValues(NO_SCENARIO, 'fomaml');
    const config = valuesToConfig(values);
    expect(config.scenario).toBeUndefined();
    expect(config.model).toMatchObject({ kind: 'mlp', inputShape: [28, 28, 1], outputs: 10, task: 'classification' });
    expect(checkValues(values).ok).toBe(true);
  });
});

describe('valuesToConfig', () => {
  it('submits only the fields that apply, and blanks as not set', () => {
    const values = {
      ...presetValues('dirichlet', 'fedavg'),
      'server.kind': 'fedavgm',
      'server.momentum': '0.5',
      perRound: '',
      maxUpdateNorm: '',
    };
    const config = valuesToConfig(values);
    expect(config.server).toEqual({ kind: 'fedavgm', lr: 1, momentum: 0.5 });
    expect('perRound' in config).toBe(false);
    expect('maxUpdateNorm' in config).toBe(false);
    expect(config.scenario).not.toHaveProperty('kShot');
  });

  it('builds a CNN from the filters list', () => {
    const config = valuesToConfig({ ...presetValues('iid', 'fomaml'), 'model.kind': 'cnn', 'model.filters': '4, 8' });
    expect(config.model).toEqual({ kind: 'cnn', inputShape: [28, 28, 1], filters: [4, 8], outputs: 10, task: 'classification' });
  });
});

describe('scenario fields for the few-shot regime', () => {
  it('map support shots, validation participants and fresh points both ways, each where it applies', () => {
    // Prepare
    const digits = {
      ...presetValues('rotated', 'maml'),
      'scenario.supportShots': '10',
      'scenario.validation': '4',
      'scenario.freshPoints': 'yes',
    };
    const sines = { ...presetValues('sinusoid', 'maml'), 'scenario.freshPoints': 'yes', 'scenario.supportShots': '10' };
    // Execute
    const fewShot = checkValues(digits);
    const fresh = checkValues(sines);
    // Assert: fresh points are sinusoid-only and shots MNIST-only, so neither leaks into the other scenario.
    expect(fewShot.ok && fewShot.config.scenario).toMatchObject({ name: 'rotated', supportShots: 10, validation: 4 });
    expect(fewShot.ok && fewShot.config.scenario).not.toHaveProperty('freshPoints');
    expect(fresh.ok && fresh.config.scenario).toMatchObject({ name: 'sinusoid', freshPoints: true, validation: 100 });
    expect(fresh.ok && fresh.config.scenario).not.toHaveProperty('supportShots');
    expect(fewShot.ok && configToValues(fewShot.config)).toMatchObject({ 'scenario.supportShots': '10', 'scenario.validation': '4' });
    expect(fresh.ok && configToValues(fresh.config)['scenario.freshPoints']).toBe('yes');
    expect(presetValues('sinusoid', 'maml')['scenario.freshPoints']).toBe('no');
  });

  it('maps label permutations both ways for digits, and keeps them away from sines', () => {
    const digits = checkValues({ ...presetValues('iid', 'maml'), 'scenario.labelPermutations': '4', 'scenario.supportShots': '50' });
    const sines = checkValues({ ...presetValues('sinusoid', 'maml'), 'scenario.labelPermutations': '4' });
    expect(digits.ok && digits.config.scenario).toMatchObject({ name: 'iid', labelPermutations: 4, supportShots: 50 });
    expect(digits.ok && configToValues(digits.config)['scenario.labelPermutations']).toBe('4');
    expect(sines.ok && sines.config.scenario).not.toHaveProperty('labelPermutations');
    expect(presetValues('iid', 'maml')['scenario.labelPermutations']).toBe('');
  });

  it('maps secure aggregation both ways, leaves it out when off, and places its refusals at the fields they concern', () => {
    const off = checkValues(presetValues('shards', 'fedavg'));
    const on = checkValues({
      ...presetValues('shards', 'fedavg'),
      secureAggregation: 'yes',
      'secureAggregation.neighbours': '20',
      'secureAggregation.maxExamples': '500',
    });
    const withInt8 = checkValues({ ...presetValues('shards', 'fedavg'), secureAggregation: 'yes', codec: 'int8' });
    const odd = checkValues({ ...presetValues('shards', 'fedavg'), secureAggregation: 'yes', 'secureAggregation.neighbours': '5' });
    expect(off.ok && off.config.secureAggregation).toBeUndefined();
    expect(on.ok && on.config.secureAggregation).toEqual({
      clip: 1,
      maxExamples: 500,
      maxGroup: 100,
      neighbours: 20,
      minSurvivors: 3,
      stageTimeoutMs: 10_000,
    });
    expect(on.ok && configToValues(on.config)).toMatchObject({
      secureAggregation: 'yes',
      'secureAggregation.neighbours': '20',
      'secureAggregation.maxExamples': '500',
    });
    expect(!withInt8.ok && withInt8.fieldErrors['codec']).toMatch(/codec: masked inputs are 32-bit ring words/);
    expect(!odd.ok && odd.fieldErrors['secureAggregation.neighbours']).toMatch(/must be even/);
  });

  it('places the scenario resolver’s refusal of too many shots next to the scenario', () => {
    const check = checkValues({ ...presetValues('iid', 'fedavg'), 'scenario.participants': '2000', 'scenario.supportShots': '4' });
    expect(check.ok).toBe(false);
    if (!check.ok) expect(Object.values(check.fieldErrors).join(' ')).toMatch(/supportShots 4 needs at least 6 digits/);
  });
});

describe('personal-head fields', () => {
  it('offers every algorithm, fedrep and fedper among them', () => {
    expect(FIELDS.find((f) => f.key === 'algorithm')?.options).toEqual(ALGORITHMS);
    expect(ALGORITHMS).toEqual(expect.arrayContaining(['fedrep', 'fedper']));
  });

  it('show head epochs for fedrep only and head layers for fedrep and fedper, and submit them only there', () => {
    // Prepare
    const visible = (key: string, algorithm: string) =>
      fieldVisible(
        FIELDS.find((f) => f.key === key)!,
        { algorithm },
      );
    const fedrep = { ...presetValues('sinusoid', 'fedrep'), 'client.headEpochs': '7', 'model.head': '2' };
    // Execute
    const rep = checkValues(fedrep);
    const per = checkValues({ ...fedrep, algorithm: 'fedper' });
    const maml = checkValues({ ...fedrep, algorithm: 'maml' });
    // Assert
    expect(['fedrep', 'fedper', 'maml'].map((a) => [visible('client.headEpochs', a), visible('model.head', a)])).toEqual([
      [true, true],
      [false, true],
      [false, false],
    ]);
    expect(rep.ok && [rep.config.client.headEpochs, rep.config.model.head]).toEqual([7, 2]);
    expect(per.ok && [per.config.client.headEpochs, per.config.model.head]).toEqual([DEFAULT_CLIENT_HYPER.headEpochs, 2]);
    expect(maml.ok && maml.config.model).not.toHaveProperty('head');
    expect(rep.ok && configToValues(rep.config)).toMatchObject({ 'client.headEpochs': '7', 'model.head': '2' });
    expect(presetValues('shards', 'fedper')['model.head']).toBe('');
  });

  it('places the schema’s refusal of a head that leaves no body, or of junk, at the head fields', () => {
    // Prepare: the sinusoid MLP has 3 layers; a 3-layer head would federate nothing.
    const values = presetValues('sinusoid', 'fedper');
    // Execute
    const noBody = checkValues({ ...values, 'model.head': '3' });
    const junk = checkValues({ ...values, algorithm: 'fedrep', 'client.headEpochs': '0' });
    // Assert
    expect(noBody.ok).toBe(false);
    if (!noBody.ok) expect(noBody.fieldErrors['model.head']).toMatch(/^model\.head: a head of 3 layers leaves no shared body/);
    expect(junk.ok).toBe(false);
    if (!junk.ok) expect(Object.keys(junk.fieldErrors)).toEqual(['client.headEpochs']);
  });
});

describe('aggregation fields', () => {
  it('map robust aggregation both ways, show the trim only for trimmed-mean, and place its errors', () => {
    // Prepare
    const values = { ...presetValues('shards', 'fedavg'), 'aggregation.kind': 'trimmed-mean', 'aggregation.trim': '0.2' };
    // Execute
    const check = checkValues(values);
    const median = checkValues({ ...values, 'aggregation.kind': 'median' });
    const bad = checkValues({ ...values, 'aggregation.trim': '0.7' });
    // Assert
    expect(check.ok && check.config.aggregation).toEqual({ kind: 'trimmed-mean', trim: 0.2 });
    expect(check.ok && configToValues(check.config)['aggregation.trim']).toBe('0.2');
    expect(median.ok && median.config.aggregation).toEqual({ kind: 'median' });
    expect(median.ok && median.input.aggregation).toEqual({ kind: 'median' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.fieldErrors['aggregation.trim']).toMatch(/aggregation\.trim/);
    expect(presetValues('rotated', 'reptile')['aggregation.kind']).toBe('fedavg');
  });
});

describe('checkValues', () => {
  it('places schema errors next to their fields with parseOrError text', () => {
    // Prepare: rounds 0 and a junk learning rate
    const values = { ...presetValues('shards', 'fomaml'), rounds: '0', 'client.lr': 'fast' };
    // Execute
    const check = checkValues(values);
    // Assert
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(Object.keys(check.fieldErrors).sort()).toEqual(['client.lr', 'rounds']);
    expect(check.fieldErrors['rounds']).toMatch(/^rounds: /);
    expect(check.summary).toContain('rounds: ');
    expect(check.formErrors).toEqual([]);
  });

  it('reports the schema cross-field rules once the fields parse', () => {
    const check = checkValues({ ...presetValues('shards', 'fomaml'), minParticipants: '20' });
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.fieldErrors).toEqual({ minParticipants: 'minParticipants: must not exceed perRound (10)' });
  });

  it('puts cross-field model errors at the Model field', () => {
    const check = checkValues({ ...presetValues('iid', 'maml'), 'model.kind': 'cnn' });
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.fieldErrors['algorithm']).toMatch(/maml \(second order\) cannot train a cnn/);
    const sine = checkValues({ ...presetValues('sinusoid', 'maml'), 'model.kind': 'cnn' });
    expect(sine.ok).toBe(false);
    if (!sine.ok) expect(Object.keys(sine.fieldErrors)).toContain('model.kind');
  });

  it('maps issue paths to visible fields', () => {
    const values = presetValues('shards', 'fomaml');
    expect(fieldFor('model.hidden.0', values)).toBe('model.hidden');
    expect(fieldFor('model.task', values)).toBe('model.kind');
    expect(fieldFor('scenario.participants', values)).toBe('scenario.participants');
    expect(fieldFor('', values)).toBeNull();
  });
});

describe('hubFieldErrors', () => {
  it("places the hub's parseOrError text at the fields it names", () => {
    const values = presetValues('shards', 'fomaml');
    expect(hubFieldErrors('rounds: Too small; client.lr: Too big', values)).toEqual({
      rounds: 'rounds: Too small',
      'client.lr': 'client.lr: Too big',
    });
    expect(hubFieldErrors('a run is already running', values)).toEqual({});
  });
});
