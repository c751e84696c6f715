// Assertions for programmer mistakes: kept on in production, they crash rather than continue with a
// broken invariant. Never use them on bytes from disk or the network: those get typed errors.

export class AssertionError extends Error {
  constructor(message: string) {
    super(`caskdb invariant violated: ${message}`);
    this.name = 'AssertionError';
  }
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}
