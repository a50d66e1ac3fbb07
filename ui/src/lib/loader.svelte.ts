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

/** What a fetch is told: whether it still matters, and whether it is for other inputs
 * than the data on screen. */
export interface LoadContext<T> {
  /** The inputs (see `key`) differ from those of the data shown: show rows as they come. */
  readonly fresh: boolean;
  /** False once a newer load (for other inputs) has replaced this one: stop. */
  current(): boolean;
  /** Shows part of the answer while the rest is read (a paged list). */
  partial(value: T): void;
}

export function loader<T>(
  fetch: (ctx: LoadContext<T>) => Promise<T>,
  opts: { immediate?: boolean; key?: () => string } = {},
): Loader<T> {
  let data = $state.raw<T | null>(null);
  let error = $state<ApiError | null>(null);
  let loadFailed = $state(false);
  let loading = $state(false);
  let busy = $state(false);
  let generation = 0;
  // The inputs of the data shown, and of the load running (null: none runs).
  let shownKey: string | null = null;
  let runningKey: string | null = null;
  let running: Promise<void> = Promise.resolve();
  let again = false;

  /** Same inputs as the load running: wait for it and read once more after it (so a
   * burst of reloads is one more read, never a restart that never finishes). Other
   * inputs: abandon it and start over. */
  function load(): Promise<void> {
    const key = opts.key?.() ?? '';
    if (runningKey === key) {
      again = true;
      return running;
    }
    const gen = ++generation;
    runningKey = key;
    again = false;
    loading = true;
    const ctx: LoadContext<T> = {
      fresh: key !== shownKey,
      current: () => gen === generation,
      partial: (v) => {
        if (gen === generation) data = v;
      },
    };
    running = (async () => {
      try {
        const v = await fetch(ctx);
        if (gen !== generation) return;
        data = v;
        shownKey = key;
        if (loadFailed) {
          error = null;
          loadFailed = false;
        }
      } catch (e) {
        if (gen !== generation) return;
        error = toApiError(e);
        loadFailed = true;
      } finally {
        if (gen === generation) {
          loading = false;
          runningKey = null;
          if (again) await load();
        }
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

export interface Action {
  readonly busy: boolean;
  readonly error: ApiError | null;
  /** Runs `f`; its error is shown (and `undefined` returned) instead of thrown. */
  run<R>(f: () => Promise<R>): Promise<R | undefined>;
  fail(e: unknown): void;
  dismiss(): void;
}

/** The busy and error state of actions on a page or dialog that loads nothing itself
 * (a wizard, the inspector): the same rules as `loader().run`. */
export function action(): Action {
  let busy = $state(false);
  let error = $state<ApiError | null>(null);
  return {
    get busy() { return busy; },
    get error() { return error; },
    async run<R>(f: () => Promise<R>): Promise<R | undefined> {
      busy = true;
      error = null;
      try {
        return await f();
      } catch (e) {
        error = toApiError(e);
        return undefined;
      } finally {
        busy = false;
      }
    },
    fail(e: unknown) { error = toApiError(e); },
    dismiss() { error = null; },
  };
}
