export * from './command.js';
export * from './digest.js';
export * from './errors.js';
export * from './statemachine.js';
