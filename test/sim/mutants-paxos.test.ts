import { availableProtocols } from '../../src/protocols/index.js';
import { mutantSuite } from './mutants.js';

// Every paxos mutant (from the registry) and the driver's ack-before-fsync must be caught.
if (availableProtocols().includes('paxos')) mutantSuite('paxos');
