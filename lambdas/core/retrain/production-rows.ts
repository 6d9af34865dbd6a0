// Labelled production rows (issue 17.4): the quality loop writes, per window, the captured requests that got
// a label as one CSV file under the retrain data prefix; the gather step reads them like any other CSV, and
// the gate scores both models on the newest of them. The name says where the rows came from and which UTC
// hours of predictions they cover, and is the same on every rerun for that window, so a rerun replaces it.
import { TRAINING_DATA_PREFIX } from './contract';

/** A window of prediction time, whole UTC hours, [from, to). */
export interface HourWindow {
  readonly from: Date;
  readonly to: Date;
}

const HOUR_MS = 3_600_000;
const STAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})Z$/;
const FILE = /(?:^|\/)production-(\d{8}T\d{2}Z)-(\d{8}T\d{2}Z)-labelled\.csv$/;

/** `training-data/<model>/`: where the retrain state machine gathers a model's data by default. */
export function trainingDataPrefix(model: string): string {
  return `${TRAINING_DATA_PREFIX}${model}/`;
}

/** 2026-12-07T05:00:00Z -> `20261207T05Z`. */
export function hourStamp(time: Date): string {
  return time.toISOString().replace(/^(\d{4})-(\d{2})-(\d{2})T(\d{2}).*$/, '$1$2$3T$4Z');
}

function stampTime(stamp: string): Date | undefined {
  const match = STAMP.exec(stamp);
  if (!match) return undefined;
  const [, y, mo, d, h] = match.map(Number) as [number, number, number, number, number];
  const time = new Date(Date.UTC(y, mo - 1, d, h));
  return time.getUTCMonth() === mo - 1 && time.getUTCDate() === d && time.getUTCHours() === h ? time : undefined;
}

/** Throws a RangeError unless the window is whole UTC hours with from < to. */
export function checkHourWindow(window: HourWindow): void {
  const { from, to } = window;
  for (const [name, time] of [['from', from], ['to', to]] as const) {
    if (Number.isNaN(time.getTime()) || time.getTime() % HOUR_MS !== 0) throw new RangeError(`window.${name} must be the start of a UTC hour, received ${String(time.toISOString?.() ?? time)}`);
  }
  if (from.getTime() >= to.getTime()) throw new RangeError(`window.from must be before window.to, received ${from.toISOString()} and ${to.toISOString()}`);
}

/** `<prefix>production-<from>-<to>-labelled.csv`, e.g. training-data/breast-cancer/production-20261207T00Z-20261208T00Z-labelled.csv. */
export function productionRowsKey(prefix: string, window: HourWindow): string {
  checkHourWindow(window);
  return `${prefix}production-${hourStamp(window.from)}-${hourStamp(window.to)}-labelled.csv`;
}

/** The window a production rows file covers, or undefined for any other key. */
export function productionWindowOfKey(key: string): HourWindow | undefined {
  const match = FILE.exec(key);
  if (!match) return undefined;
  const from = stampTime(match[1]!);
  const to = stampTime(match[2]!);
  return from && to && from < to ? { from, to } : undefined;
}

/** The newest production rows file among `keys` (the latest window end, then the latest start), or undefined. */
export function newestProductionRowsKey(keys: readonly string[]): { key: string; window: HourWindow } | undefined {
  let best: { key: string; window: HourWindow } | undefined;
  for (const key of keys) {
    const window = productionWindowOfKey(key);
    if (!window) continue;
    if (!best || window.to > best.window.to || (window.to.getTime() === best.window.to.getTime() && window.from > best.window.from)) best = { key, window };
  }
  return best;
}

/**
 * The window whose rows a quality run at `now` writes: the last whole `windowHours` tile before `now`
 * (tiles are aligned to the epoch, so runs never write overlapping windows and a row lands in one file
 * only). Every run until the next tile ends rewrites it with the labels that arrived meanwhile, so a label
 * up to `windowHours` late still becomes a training row.
 */
export function trainingRowsWindow(now: Date, windowHours: number): HourWindow {
  if (!(Number.isSafeInteger(windowHours) && windowHours >= 1)) throw new RangeError(`windowHours must be a whole number of hours, 1 or more, received ${windowHours}`);
  const tile = windowHours * HOUR_MS;
  const to = Math.floor(now.getTime() / tile) * tile;
  return { from: new Date(to - tile), to: new Date(to) };
}
