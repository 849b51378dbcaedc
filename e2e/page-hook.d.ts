// The participant page's `window.tabula`, typed by the page itself, so that a change to the hook fails this
// package's type-check rather than a browser test.
import type {} from '@tabula/web/src/participant/test-hook.js';
