// A tiny event emitter: on(name, fn) returns a function that unsubscribes.
export class Emitter {
  #handlers = new Map();

  on(name, fn) {
    let set = this.#handlers.get(name);
    if (!set) {
      set = new Set();
      this.#handlers.set(name, set);
    }
    set.add(fn);
    return () => set.delete(fn);
  }

  emit(name, ...args) {
    const set = this.#handlers.get(name);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (err) {
        // One broken listener must not break the others; report it the
        // way an uncaught error would be.
        queueMicrotask(() => { throw err; });
      }
    }
  }
}
