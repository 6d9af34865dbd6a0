import { z } from 'zod';

/** A setting from the environment, or a file it names, that is missing or wrong: the message names it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** An environment variable holding JSON, then checked by `schema`: "is not JSON", or the schema's own issues, under the variable's name. */
export function jsonVariable<T extends z.ZodType>(schema: T) {
  return z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);
}
