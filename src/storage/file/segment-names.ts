/** File names in a data directory, in one place (README.md "On-disk layout" documents them). */
export const walDirName = 'wal';
export const snapDirName = 'snap';
export const lockFileName = 'LOCK';
export const tmpSuffix = '.tmp';

const segmentPattern = /^(\d{16})\.wal$/;
const snapshotPattern = /^(\d{20})\.snap$/;

export function segmentName(seq: number): string {
  return `${String(seq).padStart(16, '0')}.wal`;
}

export function parseSegmentName(name: string): number | null {
  const m = segmentPattern.exec(name);
  return m === null ? null : Number(m[1]);
}

export function snapshotName(index: number): string {
  return `${String(index).padStart(20, '0')}.snap`;
}

export function parseSnapshotName(name: string): number | null {
  const m = snapshotPattern.exec(name);
  return m === null ? null : Number(m[1]);
}
