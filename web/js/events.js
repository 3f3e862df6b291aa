// A tiny event bus: modules talk through named events instead of importing each other.

export class Bus {
  constructor() {
    this.handlers = new Map();
  }

  /** Subscribes `fn` to `name`; returns a function that unsubscribes. */
  on(name, fn) {
    if (!this.handlers.has(name)) this.handlers.set(name, new Set());
    this.handlers.get(name).add(fn);
    return () => this.handlers.get(name)?.delete(fn);
  }

  emit(name, detail) {
    for (const fn of this.handlers.get(name) ?? []) {
      try {
        fn(detail);
      } catch (err) {
        console.error(`handler for ${name} failed`, err);
      }
    }
  }
}

/** Random hex id from crypto.getRandomValues (works outside secure contexts too). */
export function randomId(bytes = 8) {
  const a = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}
