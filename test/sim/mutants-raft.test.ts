import { availableProtocols } from '../../src/protocols/index.js';
import { mutantSuite } from './mutants.js';

// Every raft mutant (from the registry) and the driver's ack-before-fsync must be caught.
if (availableProtocols().includes('raft')) mutantSuite('raft');
