import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FileRecoveryMarker, recoveryMarkerFile } from '../../src/node/recovery-marker.js';

test('the file marker is a real file that survives a new instance (a restart) until cleared', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-marker-'));
  try {
    const m = new FileRecoveryMarker(dir);
    assert.equal(await m.isSet(), false);
    await m.set();
    assert.ok(readdirSync(dir).includes(recoveryMarkerFile));
    assert.equal(await new FileRecoveryMarker(dir).isSet(), true, 'a restarted process sees it');
    await m.clear();
    assert.equal(await new FileRecoveryMarker(dir).isSet(), false);
    await m.clear(); // idempotent
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
