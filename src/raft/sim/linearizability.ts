// A linearizability checker for concurrent histories (Wing & Gong's search with Lowe's memoisation of
// (linearized set, state) pairs, as in Porcupine). Generic over the model, so the cluster tests can check
// histories recorded against real processes. Operations without a return (crashed clients) may take effect
// at any point after their call, or never. The search is bounded by `stepsMax`; past it the result is
// 'unknown', never a false verdict.

export interface Operation<I, O> {
  readonly client: number;
  readonly input: I;
  /** undefined when the operation never returned (its effect is unknown). */
  readonly output: O | undefined;
  /** Call and return times from one clock; `ret` undefined (or Infinity) for an operation that never returned. */
  readonly call: number;
  readonly ret: number | undefined;
}

export interface Model<S, I, O> {
  init(): S;
  /** Applies `input` to `state`: whether `output` is a legal result, and the next state. `output` undefined = any. */
  step(state: S, input: I, output: O | undefined): { ok: boolean; state: S };
  /** A canonical string for a state, for memoisation. */
  hash(state: S): string;
  /** Optional P-compositionality: histories of independent parts (e.g. per key) are checked separately. */
  partition?(history: readonly Operation<I, O>[]): Operation<I, O>[][];
  describe?(input: I, output: O | undefined): string;
}

export type CheckResult =
  | { readonly result: 'ok' }
  | { readonly result: 'illegal'; readonly partition: readonly Operation<unknown, unknown>[]; readonly longestPrefix: number }
  | { readonly result: 'unknown'; readonly reason: string };

interface Node {
  readonly isCall: boolean;
  readonly id: number;
  match: Node | undefined; // call → its return node
  prev: Node | undefined;
  next: Node | undefined;
}

/** Checks one (partition of a) history. */
function checkPartition<S, I, O>(
  ops: readonly Operation<I, O>[],
  model: Model<S, I, O>,
  stepsMax: number,
): { ok: boolean; unknown: boolean; longestPrefix: number } {
  const events: { time: number; isCall: boolean; id: number }[] = [];
  ops.forEach((op, id) => {
    events.push({ time: op.call, isCall: true, id });
    const ret = op.ret === undefined || !Number.isFinite(op.ret) ? Number.POSITIVE_INFINITY : op.ret;
    if (!(ret >= op.call)) throw new RangeError(`operation ${id} returns before its call`);
    events.push({ time: ret, isCall: false, id });
  });
  // Calls sort before returns at equal times: such operations are treated as concurrent (never a false alarm).
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.id - b.id : a.isCall ? -1 : 1));

  const head: Node = { isCall: false, id: -1, match: undefined, prev: undefined, next: undefined };
  let tail = head;
  const callNode: Node[] = [];
  for (const ev of events) {
    const n: Node = { isCall: ev.isCall, id: ev.id, match: undefined, prev: tail, next: undefined };
    tail.next = n;
    tail = n;
    if (ev.isCall) callNode[ev.id] = n;
    else callNode[ev.id]!.match = n;
  }

  const lift = (n: Node): void => {
    n.prev!.next = n.next;
    if (n.next) n.next.prev = n.prev;
    const m = n.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (n: Node): void => {
    const m = n.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    n.prev!.next = n;
    if (n.next) n.next.prev = n;
  };

  const linearized = new Uint8Array(ops.length);
  const cache = new Set<string>();
  const stack: { node: Node; state: S }[] = [];
  let state = model.init();
  let entry = head.next;
  let steps = 0;
  let longest = 0;
  const keyOf = (s: S): string => {
    let bits = '';
    for (let i = 0; i < linearized.length; i += 6) {
      let v = 0;
      for (let j = 0; j < 6 && i + j < linearized.length; j++) v |= linearized[i + j]! << j;
      bits += String.fromCharCode(48 + v);
    }
    return `${bits}|${model.hash(s)}`;
  };

  while (head.next !== undefined) {
    if (++steps > stepsMax) return { ok: false, unknown: true, longestPrefix: longest };
    if (entry === undefined) return { ok: false, unknown: false, longestPrefix: longest };
    if (entry.isCall) {
      const op = ops[entry.id]!;
      const r = model.step(state, op.input, op.output);
      if (r.ok) {
        linearized[entry.id] = 1;
        const key = keyOf(r.state);
        if (!cache.has(key)) {
          cache.add(key);
          stack.push({ node: entry, state });
          longest = Math.max(longest, stack.length);
          state = r.state;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[entry.id] = 0;
      }
      entry = entry.next;
    } else {
      // A return whose call is not yet linearized: backtrack.
      const top = stack.pop();
      if (top === undefined) return { ok: false, unknown: false, longestPrefix: longest };
      state = top.state;
      linearized[top.node.id] = 0;
      unlift(top.node);
      entry = top.node.next;
    }
  }
  return { ok: true, unknown: false, longestPrefix: longest };
}

export function checkLinearizability<S, I, O>(
  history: readonly Operation<I, O>[],
  model: Model<S, I, O>,
  options: { stepsMax?: number } = {},
): CheckResult {
  const stepsMax = options.stepsMax ?? 5_000_000;
  const parts = model.partition ? model.partition(history) : [history.slice()];
  for (const part of parts) {
    const r = checkPartition(part, model, stepsMax);
    if (r.unknown) return { result: 'unknown', reason: `search exceeded ${stepsMax} steps` };
    if (!r.ok) {
      return { result: 'illegal', partition: part as readonly Operation<unknown, unknown>[], longestPrefix: r.longestPrefix };
    }
  }
  return { result: 'ok' };
}

// ---- A register-per-key KV model ----------------------------------------------------------------------

export type KvInput =
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'append'; readonly key: string; readonly value: string };

/** put/append return null; get returns the value or null for a missing key. */
export type KvOutput = string | null;

/** A single key's register (histories are partitioned by key). */
export const kvModel: Model<string | null, KvInput, KvOutput> = {
  init: () => null,
  step(state, input, output) {
    switch (input.op) {
      case 'put':
        return { ok: true, state: input.value };
      case 'append':
        return { ok: true, state: (state ?? '') + input.value };
      case 'get':
        return { ok: output === undefined || output === state, state };
    }
  },
  hash: (s) => (s === null ? '\u0000' : `=${s}`),
  partition(history) {
    const byKey = new Map<string, Operation<KvInput, KvOutput>[]>();
    for (const op of history) {
      let list = byKey.get(op.input.key);
      if (list === undefined) byKey.set(op.input.key, (list = []));
      list.push(op);
    }
    return [...byKey.keys()].sort().map((k) => byKey.get(k)!);
  },
  describe(input, output) {
    return input.op === 'get' ? `get(${input.key}) → ${output === undefined ? '?' : String(output)}` : `${input.op}(${input.key}, ${input.value})`;
  },
};
