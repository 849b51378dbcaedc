import { h } from '../shared/dom.js';

/** Sign-in with the admin token (the hub prints it at start). */
export class LoginView {
  readonly element: HTMLElement;
  private readonly input = h('input', { id: 'admin-token', type: 'password', autocomplete: 'current-password', required: true });
  private readonly error = h('p', { className: 'form-error', role: 'alert', id: 'admin-token-error' });

  constructor(onSubmit: (token: string) => void) {
    const form = h(
      'form',
      { className: 'login', 'aria-label': 'Sign in' },
      h('p', { text: 'The hub prints its admin token when it starts. It is kept in this tab only (sessionStorage).' }),
      h('div', { className: 'field' }, h('label', { for: 'admin-token', text: 'Admin token' }), this.input),
      this.error,
      h('button', { type: 'submit', className: 'primary', text: 'Sign in' }),
    );
    this.input.setAttribute('aria-describedby', 'admin-token-error');
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const token = this.input.value.trim();
      if (!token) return this.showError('Enter the admin token.');
      this.showError('');
      onSubmit(token);
    });
    this.element = h(
      'section',
      { className: 'wide', 'aria-labelledby': 'login-title' },
      h('h2', { id: 'login-title', text: 'Sign in' }),
      form,
    );
  }

  showError(message: string): void {
    this.error.textContent = message;
    this.input.setAttribute('aria-invalid', message ? 'true' : 'false');
    if (message) this.input.focus();
  }
}
