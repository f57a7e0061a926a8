// A bound on work that is heavy per unit (CPU and memory), such as building an export package: at most `max` at
// once; callers beyond it wait their turn in order, and beyond `queue` waiting they are refused at once.

export type Gate = {
  /** Waits for a place and returns its release (idempotent). Null: the queue is full, come back later. */
  enter(): Promise<(() => void) | null>;
  /** Running and waiting, for tests and metrics. */
  readonly running: number;
  readonly waiting: number;
};

export function createGate(max: number, queue: number): Gate {
  let running = 0;
  const waiting: (() => void)[] = [];

  function releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = waiting.shift();
      if (next) next();
      else running--;
    };
  }

  return {
    async enter() {
      if (running < max) {
        running++;
        return releaser();
      }
      if (waiting.length >= queue) return null;
      // The place is handed over by a release: `running` stays as it is.
      await new Promise<void>((resolve) => waiting.push(resolve));
      return releaser();
    },
    get running() {
      return running;
    },
    get waiting() {
      return waiting.length;
    },
  };
}
