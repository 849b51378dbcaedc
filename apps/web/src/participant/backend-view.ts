import { h, replaceChildren } from '../shared/dom.js';
import type { BackendReport } from './backend.js';
import { BACKEND_LABEL } from './backend-choice.js';

/** The chosen backend, the WebGL renderer string, the WebGPU adapter and why: the backend name alone is data-testid="backend". */
export class BackendView {
  readonly element: HTMLElement;
  private readonly name = h('dd', { 'data-testid': 'backend', text: '…' });
  private readonly renderer = h('dd', { 'data-testid': 'renderer', text: '…' });
  private readonly adapter = h('dd', { 'data-testid': 'gpu-adapter', text: '…' });
  private readonly reason = h('dd', { 'data-testid': 'backend-reason', text: 'choosing a backend…' });
  private readonly probes = h('ul', { className: 'muted probes' });

  constructor() {
    this.element = h(
      'div',
      {},
      h(
        'dl',
        { className: 'facts' },
        h('dt', { text: 'Backend' }),
        this.name,
        h('dt', { text: 'WebGL renderer' }),
        this.renderer,
        h('dt', { text: 'WebGPU adapter' }),
        this.adapter,
        h('dt', { text: 'Why' }),
        this.reason,
      ),
      this.probes,
    );
  }

  show(report: BackendReport): void {
    this.name.textContent = report.backend;
    this.renderer.textContent = report.renderer ? `${report.renderer}${report.software ? ' (software renderer)' : ''}` : 'no WebGL';
    this.adapter.textContent = report.gpuAdapter ? `${report.gpuAdapter}${report.softwareGpu ? ' (software adapter)' : ''}` : 'no WebGPU';
    this.reason.textContent = report.reason;
    replaceChildren(
      this.probes,
      report.probes.map((p) =>
        h('li', {
          text: `${BACKEND_LABEL[p.name]}: ${p.available ? (p.msPerStep !== undefined ? `${p.msPerStep.toFixed(1)} ms per training step` : (p.skippedReason ?? 'available')) : `unavailable${p.unavailableReason ? ` (${p.unavailableReason})` : ''}`}`,
        }),
      ),
    );
  }

  fail(message: string): void {
    this.name.textContent = 'none';
    this.reason.textContent = message;
  }
}
