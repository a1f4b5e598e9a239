/** A minimal typed event emitter that runs in Node and browsers alike (no `node:events`). */
export class Emitter<E extends { [K in keyof E]: unknown }> {
  private listeners: { [K in keyof E]?: Set<(payload: E[K]) => void> } = {};

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof E>(event: K, fn: (payload: E[K]) => void): () => void {
    (this.listeners[event] ??= new Set()).add(fn);
    return () => this.off(event, fn);
  }

  once<K extends keyof E>(event: K, fn: (payload: E[K]) => void): () => void {
    const off = this.on(event, (p) => {
      off();
      fn(p);
    });
    return off;
  }

  off<K extends keyof E>(event: K, fn: (payload: E[K]) => void): void {
    this.listeners[event]?.delete(fn);
  }

  protected emit<K extends keyof E>(event: K, payload: E[K]): void {
    for (const fn of [...(this.listeners[event] ?? [])]) {
      try {
        fn(payload);
      } catch (err) {
        // A listener's bug must not break the connection logic that emitted the event.
        setTimeout(() => {
          throw err;
        }, 0);
      }
    }
  }
}
