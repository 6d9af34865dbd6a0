/** A setting from the environment, or a file it names, that is missing or wrong: the message names it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
