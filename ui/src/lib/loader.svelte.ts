// One way a page loads and reports errors. A page makes one `loader` for what it shows
// and runs its actions through it: the first load shows a spinner, a failed load an
// error with "Try again", a failed action an error to dismiss (the data stays), and
// `busy` is true while an action runs. A reload asked for while one runs waits for it
// instead of racing it, and an answer that arrives after a newer load is dropped.
import { toApiError, type ApiError } from './api';

export interface Loader<T> {
  /** What was last loaded; null until the first load succeeds. */
  readonly data: T | null;
  readonly error: ApiError | null;
  /** Whether the shown error came from loading (so "Try again" makes sense). */
  readonly loadFailed: boolean;
  /** A load is running. */
  readonly loading: boolean;
  /** An action is running. */
  readonly busy: boolean;
  /** Loads (again). Resolves when the data on hand is current. */
  load(): Promise<void>;
  /** Runs an action; on success reloads (unless `reload: false`) and returns its value. */
  run<R>(f: () => Promise<R>, opts?: { reload?: boolean }): Promise<R | undefined>;
  /** Shows an error that is not the loader's own (e.g. a dry run that failed). */
  fail(e: unknown): void;
  dismiss(): void;
  /** Replaces the data on hand (an optimistic or pushed update). */
  set(value: T): void;
}

export function loader<T>(fetch: () => Promise<T>, opts: { immediate?: boolean } = {}): Loader<T> {
  let data = $state.raw<T | null>(null);
  let error = $state<ApiError | null>(null);
  let loadFailed = $state(false);
  let loading = $state(false);
  let busy = $state(false);
  let generation = 0;
  let running: Promise<void> | null = null;
  let again = false;

  async function once(): Promise<void> {
    const gen = ++generation;
    loading = true;
    try {
      const v = await fetch();
      if (gen !== generation) return;
      data = v;
      if (loadFailed) {
        error = null;
        loadFailed = false;
      }
    } catch (e) {
      if (gen !== generation) return;
      error = toApiError(e);
      loadFailed = true;
    } finally {
      if (gen === generation) loading = false;
    }
  }

  function load(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await once();
        } while (again);
      } finally {
        running = null;
      }
    })();
    return running;
  }

  async function run<R>(f: () => Promise<R>, o: { reload?: boolean } = {}): Promise<R | undefined> {
    busy = true;
    try {
      const r = await f();
      error = null;
      loadFailed = false;
      if (o.reload ?? true) await load();
      return r;
    } catch (e) {
      error = toApiError(e);
      loadFailed = false;
      return undefined;
    } finally {
      busy = false;
    }
  }

  if (opts.immediate ?? true) void load();

  return {
    get data() { return data; },
    get error() { return error; },
    get loadFailed() { return loadFailed; },
    get loading() { return loading; },
    get busy() { return busy; },
    load,
    run,
    fail(e: unknown) { error = toApiError(e); loadFailed = false; },
    dismiss() { error = null; loadFailed = false; },
    set(v: T) { data = v; },
  };
}
