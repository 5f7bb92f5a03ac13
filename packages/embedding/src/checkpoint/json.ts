import { CheckpointError } from './errors.js';

/**
 * A parsed JSON value. Objects are `Map`s so that every key (including `__proto__`) is kept
 * exactly and key order is the document's.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;

/** A parsed JSON object: keys in document order, no duplicates. */
export type JsonObject = Map<string, JsonValue>;

const MAX_DEPTH = 64;

/**
 * Parses `text` as strict RFC 8259 JSON, like `JSON.parse`, except that objects become `Map`s and
 * a key repeated within one object is an error (`JSON.parse` silently keeps the last one).
 * Throws a {@link CheckpointError}: `invalid-json` with the character position of the problem, or
 * `duplicate-name` naming the repeated key (a tensor name at the top level, a metadata key inside
 * `__metadata__`). Nesting deeper than 64 levels is rejected as `invalid-json`.
 */
export function parseHeaderJson(text: string): JsonValue {
  let pos = 0;
  const fail = (what: string): never => {
    const found =
      pos >= text.length ? 'end of header' : `${JSON.stringify(text[pos])} at position ${pos}`;
    throw new CheckpointError('invalid-json', `invalid JSON in header: ${what}, found ${found}`);
  };
  const skipWhitespace = (): void => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) pos++;
      else break;
    }
  };
  const expectLiteral = (word: string): void => {
    if (text.startsWith(word, pos)) pos += word.length;
    else fail(`expected ${word}`);
  };

  const parseString = (): string => {
    // Called with text[pos] === '"'.
    pos++;
    let out = '';
    let chunkStart = pos;
    for (;;) {
      if (pos >= text.length) fail('unterminated string');
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(chunkStart, pos);
        pos++;
        return out;
      }
      if (c < 0x20) fail('control character in string');
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      out += text.slice(chunkStart, pos);
      pos++;
      const e = text[pos];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = text.slice(pos + 1, pos + 5);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('invalid \\u escape');
          out += String.fromCharCode(Number.parseInt(hex, 16));
          pos += 4;
          break;
        }
        default:
          fail('invalid escape');
      }
      pos++;
      chunkStart = pos;
    }
  };

  const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
  const parseNumber = (): number => {
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (m === null) return fail('invalid number');
    pos += m[0].length;
    return Number(m[0]);
  };

  const parseValue = (keyPath: readonly string[]): JsonValue => {
    skipWhitespace();
    if (keyPath.length > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    const c = text[pos];
    if (c === '{') return parseObject(keyPath);
    if (c === '[') {
      pos++;
      const arr: JsonValue[] = [];
      skipWhitespace();
      if (text[pos] === ']') {
        pos++;
        return arr;
      }
      for (;;) {
        arr.push(parseValue([...keyPath, String(arr.length)]));
        skipWhitespace();
        if (text[pos] === ',') pos++;
        else if (text[pos] === ']') {
          pos++;
          return arr;
        } else fail("expected ',' or ']'");
      }
    }
    if (c === '"') return parseString();
    if (c === 't') {
      expectLiteral('true');
      return true;
    }
    if (c === 'f') {
      expectLiteral('false');
      return false;
    }
    if (c === 'n') {
      expectLiteral('null');
      return null;
    }
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return parseNumber();
    return fail('expected a value');
  };

  const parseObject = (keyPath: readonly string[]): JsonObject => {
    pos++;
    const obj: JsonObject = new Map();
    skipWhitespace();
    if (text[pos] === '}') {
      pos++;
      return obj;
    }
    for (;;) {
      skipWhitespace();
      if (text[pos] !== '"') fail('expected a string key');
      const keyStart = pos;
      const key = parseString();
      if (obj.has(key)) {
        pos = keyStart;
        throw duplicateKeyError(keyPath, key, keyStart);
      }
      skipWhitespace();
      if (text[pos] !== ':') fail("expected ':'");
      pos++;
      obj.set(key, parseValue([...keyPath, key]));
      skipWhitespace();
      if (text[pos] === ',') pos++;
      else if (text[pos] === '}') {
        pos++;
        return obj;
      } else fail("expected ',' or '}'");
    }
  };

  const value = parseValue([]);
  skipWhitespace();
  if (pos !== text.length) fail('unexpected content after the JSON value');
  return value;
}

function duplicateKeyError(keyPath: readonly string[], key: string, at: number): CheckpointError {
  const k = JSON.stringify(key);
  if (keyPath.length === 0) {
    return new CheckpointError(
      'duplicate-name',
      key === '__metadata__'
        ? `duplicate "__metadata__" entry in header at position ${at}`
        : `duplicate tensor name ${k} in header at position ${at}`,
    );
  }
  if (keyPath.length === 1 && keyPath[0] === '__metadata__') {
    return new CheckpointError(
      'duplicate-name',
      `duplicate metadata key ${k} in header at position ${at}`,
    );
  }
  return new CheckpointError(
    'duplicate-name',
    `duplicate key ${k} in header entry ${keyPath.map((p) => JSON.stringify(p)).join(' > ')} at position ${at}`,
  );
}
