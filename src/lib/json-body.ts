// Strict JSON body parsing: valid UTF-8 only, bounded depth, no NUL or lone surrogates, no prototype keys.
import { isUtf8 } from 'node:buffer';
import { ValidationFailed, type FieldProblem } from './errors.js';

export const MAX_JSON_DEPTH = 32;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function pathOf(parts: (string | number)[]): string {
  return parts.length === 0 ? '(body)' : parts.map((p) => String(p)).join('.');
}

function badString(s: string): string | null {
  if (s.includes('\u0000')) return 'must not contain the NUL character';
  if (!s.isWellFormed()) return 'must not contain unpaired surrogates';
  return null;
}

/** Walks a parsed body, iteratively so no input can exhaust the stack, and returns the first problems found. */
export function inspectJson(root: unknown): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value: root, path: [] }];
  while (stack.length > 0 && problems.length < 20) {
    const { value, path } = stack.pop()!;
    if (typeof value === 'string') {
      const why = badString(value);
      if (why) problems.push({ field: pathOf(path), message: why });
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (path.length >= MAX_JSON_DEPTH) {
      problems.push({ field: pathOf(path), message: `nesting deeper than ${MAX_JSON_DEPTH} levels is not accepted` });
      continue;
    }
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: [...path, i] });
      continue;
    }
    for (const key of Object.keys(value)) {
      const keyProblem = FORBIDDEN_KEYS.has(key) ? 'is a reserved key and is not accepted' : badString(key);
      if (keyProblem) {
        problems.push({ field: pathOf([...path, key]), message: keyProblem });
        continue;
      }
      stack.push({ value: (value as Record<string, unknown>)[key], path: [...path, key] });
    }
  }
  return problems;
}

export class MalformedJson extends Error {
  readonly code = 'MALFORMED_JSON';
  readonly statusCode = 400;
}

export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) throw new MalformedJson('The request body is empty; send a JSON object');
  if (!isUtf8(body)) throw new MalformedJson('The request body is not valid UTF-8');
  // A leading byte-order mark is not JSON (RFC 8259 §8.1).
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new MalformedJson('The request body is not valid JSON');
  }
  const problems = inspectJson(parsed);
  if (problems.length > 0) throw new ValidationFailed(problems);
  return parsed;
}
