import { h } from '../shared/dom.js';

export type DataSource = 'assigned' | 'own';

/** The radio choice between an assigned simulation shard and the user's own digits, plus the shard's facts. */
export class DataSourceView {
  readonly element: HTMLElement;
  readonly assignedInfo = h('p', { 'data-testid': 'assigned-data', className: 'muted', text: 'No simulation data yet.' });
  private readonly radios: Record<DataSource, HTMLInputElement>;

  constructor(initial: DataSource, onChange: (source: DataSource) => void) {
    const radio = (value: DataSource, label: string) => {
      const input = h('input', { type: 'radio', name: 'data-source', id: `source-${value}`, value, checked: value === initial });
      input.addEventListener('change', () => input.checked && onChange(value));
      return { input, element: h('label', { for: `source-${value}`, className: 'radio' }, input, ` ${label}`) };
    };
    const assigned = radio('assigned', 'Assigned simulation data');
    const own = radio('own', 'My own digits');
    this.radios = { assigned: assigned.input, own: own.input };
    this.element = h('fieldset', {}, h('legend', { text: 'Data source' }), assigned.element, own.element, this.assignedInfo);
  }

  get value(): DataSource {
    return this.radios.own.checked ? 'own' : 'assigned';
  }
}
