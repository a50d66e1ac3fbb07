// Coalesces a burst of calls into one, `ms` after the last (trailing edge), with an
// upper bound so a steady stream still runs at least every `maxWait` ms. Timers are the
// global setTimeout/clearTimeout, so tests drive it with fake timers.

export interface Debounced {
  (): void;
  /** Drops a pending call. */
  cancel(): void;
  /** Runs a pending call now. */
  flush(): void;
  readonly pending: boolean;
}

export function debounce(fn: () => void, ms: number, maxWait = ms * 4): Debounced {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let first: number | null = null;
  const fire = () => {
    timer = undefined;
    first = null;
    fn();
  };
  const d = (() => {
    const now = Date.now();
    if (first === null) first = now;
    clearTimeout(timer);
    const wait = Math.max(0, Math.min(ms, first + maxWait - now));
    timer = setTimeout(fire, wait);
  }) as Debounced;
  d.cancel = () => {
    clearTimeout(timer);
    timer = undefined;
    first = null;
  };
  d.flush = () => {
    if (timer !== undefined) {
      clearTimeout(timer);
      fire();
    }
  };
  Object.defineProperty(d, 'pending', { get: () => timer !== undefined });
  return d;
}
