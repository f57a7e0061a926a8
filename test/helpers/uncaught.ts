// Uncaught exceptions and unhandled rejections during a test file, collected instead of crashing it, so a test can
// assert there were none.
type Teardown = { teardown(fn: () => unknown): void };

/** Starts collecting; the returned array fills as they happen. Listening stops at teardown. */
export function collectUncaught(t: Teardown): unknown[] {
  const unexpected: unknown[] = [];
  const onUncaught = (err: unknown) => unexpected.push(err);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  t.teardown(() => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  });
  return unexpected;
}
