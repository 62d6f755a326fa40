/**
 * Runs `tasks` with at most `limit` at a time and returns their results in task order.
 * On the first failure no further task starts and `onFailure` is called (to stop the
 * running ones); the promise rejects with that failure only once every started task
 * has settled, so a caller's rollback never races work still writing.
 */
export async function runLimited<T>(tasks: (() => Promise<T>)[], limit: number, onFailure: () => void): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < tasks.length) {
      const i = next++;
      try {
        results[i] = await tasks[i]!();
      } catch (error) {
        if (failure === undefined) {
          failure = { error };
          onFailure();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, tasks.length)) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}
