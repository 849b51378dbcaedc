import { h, replaceChildren } from '../shared/dom.js';
import type { ParticipationSettings } from './participation.js';

export interface ParticipationActions {
  pause(paused: boolean): void;
  visibleOnly(only: boolean): void;
  /** Null: no limit. Returns why the value is refused, or null. */
  maxRoundsPerHour(max: number | null): string | null;
  leave(deleteData: boolean): void;
  join(): void;
}

/**
 * The person's controls over taking part: pause and resume, the limits they set, leave (optionally deleting the tab's
 * data) and join again. Native buttons, checkboxes and inputs with labels: usable with a keyboard alone.
 */
export class ParticipationView {
  readonly element: HTMLElement;
  private readonly pause = h('button', { type: 'button', 'data-testid': 'pause-toggle' });
  private readonly visible = h('input', { type: 'checkbox', id: 'visible-only' });
  private readonly limit = h('input', {
    type: 'number',
    id: 'max-rounds',
    min: 1,
    step: 1,
    inputmode: 'numeric',
    placeholder: 'no limit',
  });
  private readonly limitError = h('span', { className: 'error', role: 'alert' });
  private readonly deleteData = h('input', { type: 'checkbox', id: 'delete-data' });
  private readonly leaveButton = h('button', { type: 'button', 'data-testid': 'leave' }, 'Leave');
  private readonly joinButton = h('button', { type: 'button', 'data-testid': 'join' }, 'Join again');
  private readonly summary = h('p', { className: 'muted', 'data-testid': 'participation', 'aria-live': 'polite' });
  private readonly leaveRow: HTMLElement;
  private settings: ParticipationSettings;

  constructor(settings: ParticipationSettings, actions: ParticipationActions) {
    this.settings = settings;
    this.pause.addEventListener('click', () => actions.pause(!this.settings.paused));
    this.visible.addEventListener('change', () => actions.visibleOnly(this.visible.checked));
    this.limit.addEventListener('change', () => {
      const text = this.limit.value.trim();
      const refusal = actions.maxRoundsPerHour(text === '' ? null : Number(text));
      this.limitError.textContent = refusal ?? '';
    });
    this.leaveButton.addEventListener('click', () => actions.leave(this.deleteData.checked));
    this.joinButton.addEventListener('click', () => actions.join());
    this.leaveRow = h(
      'p',
      {},
      this.leaveButton,
      ' ',
      h('label', {}, this.deleteData, " and delete this tab's data (drawn digits, personal heads, its participant id)"),
    );
    this.element = h(
      'div',
      { className: 'participation' },
      h('p', {}, this.pause),
      h('p', {}, h('label', {}, this.visible, ' Take part only while this tab is visible')),
      h('p', {}, h('label', { for: 'max-rounds' }, 'At most '), this.limit, ' rounds per hour ', this.limitError),
      this.leaveRow,
      this.joinButton,
      this.summary,
    );
  }

  /** Shows the settings, the rounds of the last hour, and why the tab sits out (null: it takes part). */
  show(settings: ParticipationSettings, roundsThisHour: number, reason: string | null): void {
    this.settings = settings;
    this.pause.textContent = settings.paused ? 'Resume taking part' : 'Pause taking part';
    this.pause.setAttribute('aria-pressed', String(settings.paused));
    this.pause.disabled = settings.left;
    this.visible.checked = settings.visibleOnly;
    if (document.activeElement !== this.limit)
      this.limit.value = settings.maxRoundsPerHour === null ? '' : String(settings.maxRoundsPerHour);
    this.leaveRow.hidden = settings.left;
    this.joinButton.hidden = !settings.left;
    replaceChildren(this.summary, reason ? `Sitting out: ${reason}.` : 'Taking part.', ` Rounds in the last hour: ${roundsThisHour}.`);
  }
}
