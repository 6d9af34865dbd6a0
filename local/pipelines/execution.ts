// What running a state machine gives back, in a module of its own: the runner makes compiled state machines
// and the Distributed Map adapter runs them as its item processor, so neither imports the other for it.
import type { Json } from './checks';

export type ExecutionResult =
  | { readonly status: 'SUCCEEDED'; readonly output: Json }
  | { readonly status: 'FAILED'; readonly error: string; readonly cause: string };

/** A definition checked and prepared once, run any number of times (a Distributed Map's item processor). */
export type CompiledStateMachine = (input: Json, executionName?: string) => Promise<ExecutionResult>;
