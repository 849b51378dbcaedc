// `@tabula/core/protocol`: the typed protocol, configs, model specs and presets without TF.js, so a page that
// only talks to the hub (the admin dashboard) does not download the 1.5 MB of TF.js. protocol-index.test.ts
// keeps TF.js out of this module's imports.
export * from './protocol.js';
export * from './learn/hyper.js';
export * from './model/spec.js';
export * from './presets.js';
