// How a pipeline step fails. Step Functions quotes a function's error as its Cause, and the failure
// notification quotes the Cause: with Lambda's error payload that would mail a stack trace to on-call.
// So a step logs its error with the stack (the logs keep it for whoever debugs) and fails with the type
// and message alone, which say what to fix.

/** Wraps a step handler: a failure is passed to `log` whole, then rethrown without its stack trace. */
export function withoutStackTrace<A extends unknown[], R>(handler: (...args: A) => Promise<R>, log?: (error: Error) => void): (...args: A) => Promise<R> {
  return async (...args: A) => {
    try {
      return await handler(...args);
    } catch (thrown) {
      const error = thrown instanceof Error ? thrown : new Error(String(thrown));
      log?.(error);
      // Lambda's runtime and the local runner both turn `stack` into the Cause's `trace`.
      error.stack = `${error.name}: ${error.message}`;
      throw error;
    }
  };
}
