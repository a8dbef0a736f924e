import { ErrorCode, QuorateError } from '../../core/index.js';

/**
 * The persisted epochs contradict the history (ZOOKEEPER-2307): acceptedEpoch below
 * currentEpoch, or txns logged from an epoch never accepted. Starting anyway could break a
 * promise the replica made before the crash, so it refuses to run.
 */
export class EpochInconsistencyError extends QuorateError {
  override readonly name = 'EpochInconsistencyError';
  readonly acceptedEpoch: number;
  readonly currentEpoch: number;
  readonly lastLoggedEpoch: number;
  constructor(acceptedEpoch: number, currentEpoch: number, lastLoggedEpoch: number) {
    super(ErrorCode.Corrupt,
      `zab epochs on disk are inconsistent: need epoch(lastLoggedZxid)=${lastLoggedEpoch} <= acceptedEpoch=${acceptedEpoch} ` +
      `and currentEpoch=${currentEpoch} <= acceptedEpoch=${acceptedEpoch}`);
    this.acceptedEpoch = acceptedEpoch;
    this.currentEpoch = currentEpoch;
    this.lastLoggedEpoch = lastLoggedEpoch;
  }
}
