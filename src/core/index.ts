export * from './assert.js';
export * from './codec.js';
export * from './encoding.js';
export * from './errors.js';
export * from './replica.js';
export * from './rng.js';
export * from './types.js';
