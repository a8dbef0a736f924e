import fc from 'fast-check';

/**
 * Mutations of a valid image, for the decoder fuzzers: what a damaged disk, a truncated copy or a
 * hostile peer makes of good bytes. Positions are drawn as fractions of the image's length, so the
 * same mutation lands inside images of any size (and shrinks toward the start of the image).
 */
export type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'byte'; readonly at: number; readonly value: number }
  /** A 32-bit field rewritten to a value that stresses a length or count. */
  | { readonly kind: 'u32'; readonly at: number; readonly value: number }
  /** A varint rewritten to a long one (the longest a field can carry, and one byte longer). */
  | { readonly kind: 'varint'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'extend'; readonly bytes: Uint8Array }
  | { readonly kind: 'splice'; readonly at: number; readonly drop: number; readonly bytes: Uint8Array };

/** A position inside the image, as a fraction of its length. */
const where = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const lengths = [0, 1, 4, 5, 127, 128, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff];
const longVarints = [
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], // 2^56 - 1: past 2^53
  [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], // nine bytes: past the varint bound
  [0xff, 0xff, 0xff, 0x0f], // 2^32 - 1: a count or length far past the image
  [0x80, 0x00], // a non-canonical zero
].map((b) => Uint8Array.from(b));
const someBytes = fc.uint8Array({ maxLength: 24 });

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: where, bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('byte' as const), at: where, value: fc.constantFrom(0, 1, 0x7f, 0x80, 0xc0, 0xff) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('u32' as const), at: where, value: fc.constantFrom(...lengths) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('varint' as const), at: where, bytes: fc.constantFrom(...longVarints) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: where }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('extend' as const), bytes: someBytes }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('splice' as const), at: where, drop: fc.integer({ min: 0, max: 8 }), bytes: someBytes }) },
);

/** One to three mutations: more than that and nearly every case dies at the first check. */
export const mutationsArb = fc.array(mutationArb, { minLength: 1, maxLength: 3 });

function pos(b: Uint8Array, at: number): number {
  return Math.min(b.length - 1, Math.floor(at * b.length));
}

/** The image with one mutation applied (a copy; the input is left alone). */
export function mutate(image: Uint8Array, m: Mutation): Uint8Array {
  if (image.length === 0 && m.kind !== 'extend' && m.kind !== 'splice') return image;
  switch (m.kind) {
    case 'flip': {
      const b = image.slice();
      const i = pos(b, m.at);
      b[i] = (b[i] as number) ^ (1 << m.bit);
      return b;
    }
    case 'byte': {
      const b = image.slice();
      b[pos(b, m.at)] = m.value;
      return b;
    }
    case 'u32': {
      const b = image.slice();
      const i = Math.max(0, Math.min(b.length - 4, pos(b, m.at)));
      if (b.length >= 4) new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(i, m.value, false);
      return b;
    }
    case 'varint':
    case 'splice': {
      const i = image.length === 0 ? 0 : pos(image, m.at);
      const drop = m.kind === 'varint' ? 1 : m.drop;
      const out = new Uint8Array(image.length - Math.min(drop, image.length - i) + m.bytes.length);
      out.set(image.subarray(0, i), 0);
      out.set(m.bytes, i);
      out.set(image.subarray(Math.min(image.length, i + drop)), i + m.bytes.length);
      return out;
    }
    case 'truncate':
      return image.slice(0, pos(image, m.at));
    case 'extend': {
      const out = new Uint8Array(image.length + m.bytes.length);
      out.set(image, 0);
      out.set(m.bytes, image.length);
      return out;
    }
    default:
      return assertNeverMutation(m);
  }
}

export function mutateAll(image: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  return ms.reduce((b, m) => mutate(b, m), image);
}

function assertNeverMutation(x: never): never {
  throw new Error(`unexpected mutation ${JSON.stringify(x)}`);
}

/** What a fuzz target reports for one run of `cases` cases. */
export interface TargetReport {
  readonly target: string;
  readonly cases: number;
  /** Per-outcome counts (refused with which error, decoded, ...), for the table. */
  readonly outcomes: Record<string, number>;
  /** The failure fast-check found and shrank, with the seed and path that replay it; or null. */
  readonly failure: string | null;
}

export function count(outcomes: Record<string, number>, what: string): void {
  outcomes[what] = (outcomes[what] ?? 0) + 1;
}

/** fast-check's report of a failed run, trimmed to what replays it. */
export function failureOf<T>(d: fc.RunDetails<T>): string | null {
  if (!d.failed) return null;
  const err = d.errorInstance as Error | undefined;
  return `seed ${d.seed} path ${d.counterexamplePath ?? '?'}: ${err?.stack ?? String(err)}\n` +
    `counterexample: ${fc.stringify(d.counterexample)}`;
}
