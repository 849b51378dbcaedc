import { errorMessage, h, randomId, replaceChildren } from '../shared/dom.js';
import { DrawPad, digitThumbnail, imageFileToRgba } from './draw-pad.js';
import { toMnistPixels } from './image-to-mnist.js';
import { splitOwnData, summarizeOwnData, type OwnDigit } from './own-data.js';
import type { OwnDigitStore } from './own-store.js';

const THUMBNAILS = 16;

/**
 * The user's own digits: draw one and label it with one click, or upload images with a label; a summary of
 * counts per label, the split sizes and the latest thumbnails. Calls `onChange` with every change.
 */
export class OwnDataPanel {
  readonly element: HTMLElement;
  private digits: OwnDigit[] = [];
  private readonly pad = new DrawPad('Drawing pad for your own digit');
  private readonly summary = h('div', { className: 'own-summary', 'aria-live': 'polite' });
  private readonly notice = h('p', { className: 'notice', role: 'status' });
  private readonly fileInput = h('input', { type: 'file', accept: 'image/*', multiple: true, id: 'upload-file' });
  private readonly uploadLabel = h(
    'select',
    { id: 'upload-label' },
    ...Array.from({ length: 10 }, (_, d) => h('option', { value: d, text: d })),
  );

  constructor(
    private readonly store: OwnDigitStore | null,
    private readonly onChange: (digits: readonly OwnDigit[]) => void,
  ) {
    const labelButtons = Array.from({ length: 10 }, (_, d) => {
      const button = h('button', { type: 'button', className: 'label-button', 'aria-label': `Save drawing as ${d}`, text: d });
      button.addEventListener('click', () => void this.saveDrawing(d));
      return button;
    });
    const clearPad = h('button', { type: 'button', text: 'Clear drawing' });
    clearPad.addEventListener('click', () => this.pad.clear());
    const addImages = h('button', { type: 'button', text: 'Add images' });
    addImages.addEventListener('click', () => void this.addUploads());
    const clearAll = h('button', { type: 'button', text: 'Delete all my digits' });
    clearAll.addEventListener('click', () => void this.clearAll());

    this.element = h(
      'div',
      { className: 'own-data' },
      h('p', { text: 'Your digits stay in this browser (IndexedDB): only weight updates leave the tab.' }),
      h(
        'div',
        { className: 'draw-row' },
        this.pad.canvas,
        h(
          'div',
          {},
          h('p', { text: 'Draw a digit, then click its label to save it:' }),
          h('div', { className: 'label-buttons', role: 'group', 'aria-label': 'Save drawing as' }, labelButtons),
          clearPad,
        ),
      ),
      h(
        'fieldset',
        {},
        h('legend', { text: 'Upload images' }),
        h('label', { for: 'upload-file', text: 'Image files' }),
        this.fileInput,
        h('label', { for: 'upload-label', text: 'Label for the images' }),
        this.uploadLabel,
        addImages,
      ),
      this.notice,
      this.summary,
      clearAll,
    );
    if (!store) this.say('IndexedDB is unavailable: your digits last only until this tab closes.');
  }

  async load(): Promise<void> {
    try {
      this.digits = this.store ? await this.store.all() : [];
    } catch (error) {
      this.say(`could not read your saved digits: ${errorMessage(error)}`);
    }
    this.changed();
  }

  get all(): readonly OwnDigit[] {
    return this.digits;
  }

  private async saveDrawing(label: number): Promise<void> {
    const pixels = this.pad.toMnist();
    if (!pixels) {
      this.say('Draw a digit first.');
      return;
    }
    this.pad.clear(); // now, not after the save: the next digit may already be on its way
    await this.add([{ id: randomId('d'), label, pixels, createdAt: Date.now() }]);
    this.say(`Saved a ${label}.`);
  }

  private async addUploads(): Promise<void> {
    const files = [...(this.fileInput.files ?? [])];
    if (files.length === 0) {
      this.say('Choose one or more image files first.');
      return;
    }
    const label = Number(this.uploadLabel.value);
    const added: OwnDigit[] = [];
    const problems: string[] = [];
    for (const file of files) {
      try {
        const pixels = toMnistPixels(await imageFileToRgba(file));
        if (pixels) added.push({ id: randomId('u'), label, pixels, createdAt: Date.now() + added.length });
        else problems.push(`${file.name}: no digit found`);
      } catch (error) {
        problems.push(`${file.name}: ${errorMessage(error)}`);
      }
    }
    await this.add(added);
    this.fileInput.value = '';
    this.say([`Added ${added.length} image${added.length === 1 ? '' : 's'} as ${label}.`, ...problems].join(' '));
  }

  private async add(digits: readonly OwnDigit[]): Promise<void> {
    for (const digit of digits) {
      this.digits.push(digit);
      try {
        await this.store?.add(digit);
      } catch (error) {
        this.say(`could not save a digit: ${errorMessage(error)}`);
      }
    }
    this.changed();
  }

  private async clearAll(): Promise<void> {
    this.digits = [];
    try {
      await this.store?.clear();
    } catch (error) {
      this.say(`could not delete your digits: ${errorMessage(error)}`);
    }
    this.changed();
    this.say('Deleted all your digits.');
  }

  private say(text: string): void {
    this.notice.textContent = text;
  }

  private changed(): void {
    const s = summarizeOwnData(this.digits);
    const split = splitOwnData(this.digits);
    const counts = h(
      'table',
      { className: 'counts', 'aria-label': 'Your digits per label' },
      h('thead', {}, h('tr', {}, h('th', { text: 'label' }), ...s.counts.map((_, d) => h('th', { scope: 'col', text: d })))),
      h('tbody', {}, h('tr', {}, h('th', { scope: 'row', text: 'count' }), ...s.counts.map((c) => h('td', { text: c })))),
    );
    const latest = this.digits.slice(-THUMBNAILS).reverse();
    replaceChildren(
      this.summary,
      h('p', { className: s.trainable ? '' : 'warning', 'data-testid': 'own-data-summary', text: s.message }),
      split
        ? h('p', { text: `Split: ${split.support.count} support (adapt), ${split.query.count} query, ${split.test.count} test.` })
        : null,
      counts,
      h(
        'div',
        { className: 'thumbs' },
        latest.map((d) => digitThumbnail(d.pixels, `your ${d.label}`)),
      ),
    );
    this.onChange(this.digits);
  }
}
