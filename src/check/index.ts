export * from './history.js';
export * from './html.js';
export * from './durability.js';
export * from './invariants.js';
export * from './auth.js';
export * from './linearizable.js';
export * from './generate.js';
