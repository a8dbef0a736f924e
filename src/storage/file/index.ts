export { FileStorage, defaultRecordBytesMax, defaultSegmentBytesMax, type FileStorageOptions } from './file-storage.js';
export { Failpoint, Failpoints } from './failpoints.js';
export { fileLayerFromEnv, parseTestDisk, realFileLayer, testFileLayer, type FileLayer, type TestDiskFault, type WritableFile } from './fs-layer.js';
export { newestSnapshotFile, readSnapshotFile, verifySnapshotBytes, writeSnapshotFile, snapshotMetaBytesMax, type SnapshotFileInfo } from './snapshot-file.js';
export { lockFileName, snapDirName, walDirName, segmentName, snapshotName } from './segment-names.js';
