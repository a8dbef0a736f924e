/**
 * Assertions are documentation that runs. A broken invariant is a bug: it throws, and in the
 * simulator the failing seed is printed. Asserts stay on in production.
 */
export class AssertionFailure extends Error {
  override readonly name = 'AssertionFailure';
}

export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new AssertionFailure(typeof message === 'function' ? message() : message);
  }
}

/** Closes every switch over a union: the compiler proves the default is unreachable. */
export function assertNever(value: never, what = 'value'): never {
  throw new AssertionFailure(`unexpected ${what}: ${JSON.stringify(value)}`);
}
