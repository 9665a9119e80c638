import { ingest, type IngestMemo } from '../../../runtime/control/ingest';
import { makeSnapshot, seal } from '../../../runtime/compile/snapshot';
import { localMesh } from '../../fixtures/local-mesh';
import { setSource, sourceOf } from '../../../api';

const PORTS = { reviewsV1: 19001, reviewsV2: 19002, details: 19003 };

describe('ingest', () => {
  test('unchanged resources keep their validated, frozen copy from one update to the next; changed ones are checked again', () => {
    const memo: IngestMemo = new Map();
    const first = ingest(localMesh(PORTS), new Map(), { analyze: false, memo, seal });
    const edited = localMesh(PORTS);
    const vs = edited.find((o) => o.kind === 'VirtualService') as any;
    vs.spec.http[0].route[0].weight = -1;
    const second = ingest(edited, first.lastGood, { analyze: false, memo, seal });
    expect(second.rejected.map((f) => [f.code, f.name])).toEqual([['MAST0005', vs.metadata.name]]);
    // The rejected one is replaced by its last good version; every other object is the very same copy.
    expect(second.objects).toEqual(first.objects);
    for (const [i, o] of second.objects.entries()) expect(o).toBe(first.objects[i]);
    expect(Object.isFrozen((first.objects[0] as any).metadata)).toBe(true);
    // A snapshot takes sealed objects as they are, and copies others.
    const snap = makeSnapshot(second.objects, 'v2');
    expect(snap.objects[0]).toBe(second.objects[0]);
    const loose = localMesh(PORTS);
    expect(makeSnapshot(loose, 'v3').objects[0]).not.toBe(loose[0]);
  });

  test('the sealed copy keeps where the object was read from', () => {
    const [obj] = localMesh(PORTS);
    const source = { file: '/mesh/a.yaml', line: 3, lineOf: () => 3 };
    setSource(obj, source);
    expect(sourceOf(seal(obj))).toBe(source);
  });
});
