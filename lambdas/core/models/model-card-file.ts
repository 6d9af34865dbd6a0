// Reads the model card a function is deployed with (model.json next to its bundle), checked against the
// schema and the model the function is configured for.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../common/config-error';
import { modelCardSchema, type ModelCard } from './model-card';
import { parseWithSchema } from '../common/schema-errors';

export function readModelCardFile(path: string, modelName: string): ModelCard {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the model card ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`the model card ${path} is not JSON: ${(error as Error).message}`);
  }
  const parsed = parseWithSchema(modelCardSchema, json);
  if (!parsed.ok) throw new ConfigError(`the model card ${path} is not valid: ${parsed.errors.slice(0, 5).join('; ')}`);
  if (parsed.data.name !== modelName) throw new ConfigError(`the model card ${path} is for model '${parsed.data.name}', MODEL_NAME is '${modelName}'`);
  return parsed.data;
}
