// jsdom lacks these browser APIs that Svelte's bindings and the copy button use.
class RO {
  observe() {}
  unobserve() {}
  disconnect() {}
}
(globalThis as unknown as { ResizeObserver: typeof RO }).ResizeObserver ??= RO;
if (!('clipboard' in navigator)) {
  Object.defineProperty(navigator, 'clipboard', { value: { writeText: async () => {} } });
}
(globalThis as unknown as { matchMedia: unknown }).matchMedia ??= () => ({ matches: false, addEventListener() {}, removeEventListener() {} });
