import type { Algorithm, RunConfigInput } from '@tabula/core/protocol';
import { h, replaceChildren } from '../shared/dom.js';
import { FIELDS, checkValues, fieldVisible, hubFieldErrors, presetValues, type FieldDef, type FormValues } from './run-form-model.js';

const GROUPS = ['Run', 'Model', 'Scenario', 'Rounds', 'Client', 'Server', 'Privacy'] as const;
const GROUP_TITLE: Record<(typeof GROUPS)[number], string> = {
  Run: 'Run',
  Model: 'Model',
  Scenario: 'Scenario (simulated data for tabs without their own)',
  Rounds: 'Rounds and deadlines',
  Client: 'Client hyper-parameters',
  Server: 'Server optimizer',
  Privacy: 'Secure aggregation (the hub learns only the sum of the updates)',
};

const fieldId = (key: string) => `f-${key.replace(/\./g, '-')}`;

interface FieldControl {
  readonly def: FieldDef;
  readonly wrapper: HTMLElement;
  readonly input: HTMLInputElement | HTMLSelectElement;
  readonly error: HTMLElement;
}

/**
 * Every run setting as a labelled control. Defaults come from core's presetRunConfig for the chosen scenario
 * and algorithm; changing either refills the fields the user has not edited. Start validates with the same
 * schema the hub uses and shows each problem next to its field; the hub's own refusal shows below.
 */
export class RunFormView {
  readonly element: HTMLElement;
  private readonly controls = new Map<string, FieldControl>();
  private readonly edited = new Set<string>();
  private readonly formError = h('div', { className: 'form-error', role: 'alert', 'data-testid': 'run-form-error' });
  private readonly startButton = h('button', { type: 'submit', className: 'primary', text: 'Start run' });
  readonly stopButton = h('button', { type: 'button', text: 'Stop run', disabled: true });
  private readonly resetButton = h('button', { type: 'button', text: 'Reset to preset' });

  constructor(
    private readonly onStart: (config: RunConfigInput) => Promise<void>,
    onStop: () => Promise<void>,
  ) {
    const form = h('form', { 'aria-label': 'Run settings', novalidate: true });
    for (const group of GROUPS) {
      const grid = h('div', { className: 'form-grid' });
      for (const def of FIELDS.filter((f) => f.group === group)) grid.append(this.buildField(def).wrapper);
      form.append(h('fieldset', {}, h('legend', { text: GROUP_TITLE[group] }), grid));
    }
    form.append(h('div', { className: 'buttons' }, this.startButton, this.stopButton, this.resetButton), this.formError);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.start();
    });
    this.stopButton.addEventListener('click', () => {
      this.stopButton.disabled = true;
      void onStop().finally(() => undefined);
    });
    this.resetButton.addEventListener('click', () => {
      this.edited.clear();
      this.applyPreset();
    });
    this.element = form;
    this.set('scenario.name', 'shards');
    this.set('algorithm', 'fomaml');
    this.applyPreset();
  }

  private buildField(def: FieldDef): FieldControl {
    const id = fieldId(def.key);
    const input =
      def.kind === 'select'
        ? h('select', { id, name: def.key }, ...(def.options ?? []).map((o) => h('option', { value: o, text: o })))
        : h('input', {
            id,
            name: def.key,
            type: 'text',
            inputmode: def.kind === 'int' ? 'numeric' : def.kind === 'number' ? 'decimal' : null,
            autocomplete: 'off',
          });
    const error = h('span', { className: 'error', id: `${id}-error` });
    const hint = def.hint ? h('span', { className: 'hint', id: `${id}-hint`, text: def.hint }) : null;
    input.setAttribute('aria-describedby', [hint ? `${id}-hint` : '', `${id}-error`].filter(Boolean).join(' '));
    const wrapper = h('div', { className: 'field' }, h('label', { for: id, text: def.label }), input, hint, error);
    input.addEventListener(def.kind === 'select' ? 'change' : 'input', () => {
      this.edited.add(def.key);
      if (def.key === 'scenario.name' || def.key === 'algorithm') {
        // a new starting point; the fields the user typed into stay as they are
        this.edited.delete('scenario.name');
        this.edited.delete('algorithm');
        this.applyPreset();
      }
      this.refreshVisibility();
      this.clearError(def.key);
    });
    const control = { def, wrapper, input, error };
    this.controls.set(def.key, control);
    return control;
  }

  private set(key: string, value: string): void {
    const control = this.controls.get(key);
    if (control) control.input.value = value;
  }

  values(): FormValues {
    const values: FormValues = {};
    for (const [key, control] of this.controls) values[key] = control.input.value;
    return values;
  }

  /** Fills every field the user has not edited from the preset of the chosen scenario and algorithm. */
  private applyPreset(): void {
    const current = this.values();
    const preset = presetValues(current['scenario.name'] || 'shards', (current['algorithm'] || 'fomaml') as Algorithm);
    for (const [key, control] of this.controls) {
      if (this.edited.has(key) || key === 'scenario.name' || key === 'algorithm') {
        if (!control.input.value && preset[key] !== undefined) control.input.value = preset[key];
        continue;
      }
      control.input.value = preset[key] ?? '';
    }
    this.refreshVisibility();
  }

  private refreshVisibility(): void {
    const values = this.values();
    for (const control of this.controls.values()) control.wrapper.hidden = !fieldVisible(control.def, values);
  }

  private clearError(key: string): void {
    const control = this.controls.get(key);
    if (!control) return;
    control.error.textContent = '';
    control.input.removeAttribute('aria-invalid');
  }

  private showErrors(fieldErrors: Record<string, string>, formErrors: readonly string[]): void {
    for (const [key, control] of this.controls) {
      const message = fieldErrors[key] ?? '';
      control.error.textContent = message;
      if (message) control.input.setAttribute('aria-invalid', 'true');
      else control.input.removeAttribute('aria-invalid');
    }
    replaceChildren(this.formError, ...formErrors.map((e) => h('p', { text: e })));
  }

  private async start(): Promise<void> {
    const check = checkValues(this.values());
    if (!check.ok) {
      this.showErrors(check.fieldErrors, [...check.formErrors, `Not started: ${check.summary}`]);
      const first = Object.keys(check.fieldErrors)[0];
      if (first) this.controls.get(first)?.input.focus();
      return;
    }
    this.showErrors({}, []);
    this.startButton.disabled = true;
    try {
      await this.onStart(check.config);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.showErrors(hubFieldErrors(message, this.values()), [`The hub refused the run: ${message}`]);
    } finally {
      this.startButton.disabled = false;
    }
  }

  /** Shows a hub error that is not about one field (e.g. a failed stop). */
  showFormError(message: string): void {
    replaceChildren(this.formError, message ? h('p', { text: message }) : null);
  }

  setRunning(running: boolean): void {
    this.stopButton.disabled = !running;
  }
}
