import { availableProtocols } from '../../src/protocols/index.js';
import { mutantSuite } from './mutants.js';

// Every zab mutant (from the registry) and the driver's ack-before-fsync must be caught.
if (availableProtocols().includes('zab')) mutantSuite('zab');
