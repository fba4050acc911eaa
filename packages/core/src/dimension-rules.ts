/**
 * The Swarming server's per-key and per-value dimension rules
 * (docs/swarming-bot.md), shared by the state server's checks and the
 * Swarming double. The server is Python: lengths count code points and white
 * space is what Python's str.strip() removes, so both are computed that way
 * here (JavaScript's length counts UTF-16 units and its trim() differs).
 * Cases: packages/devices/src/__fixtures__/dimension-rules/cases.json.
 */
export const DIMENSION_KEY_PATTERN = /^[a-zA-Z\-_.][0-9a-zA-Z\-_.]*$/;
export const MAX_DIMENSION_KEY_LENGTH = 64;
export const MAX_DIMENSION_VALUE_LENGTH = 256;

/** The characters Python's str.isspace() accepts, i.e. what str.strip() removes. */
const PYTHON_WHITESPACE: ReadonlySet<number> = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003,
  0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

/** Length in code points, as Python's len() counts a str. */
export function codePointLength(text: string): number {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

/** True when the text starts or ends with white space as Python's str.strip() sees it. */
export function hasOuterWhitespace(text: string): boolean {
  // Every white space character is in the BMP, so one UTF-16 unit at each end decides.
  return (
    text !== "" &&
    (PYTHON_WHITESPACE.has(text.charCodeAt(0)) || PYTHON_WHITESPACE.has(text.charCodeAt(text.length - 1)))
  );
}

/** What is wrong with one key, or undefined when it is fine. */
export function dimensionKeyProblem(key: string): string | undefined {
  if (key.length > MAX_DIMENSION_KEY_LENGTH)
    return `dimension key "${key.slice(0, 80)}" is longer than ${MAX_DIMENSION_KEY_LENGTH} characters`;
  if (!DIMENSION_KEY_PATTERN.test(key))
    return `dimension key "${key}" must match ${DIMENSION_KEY_PATTERN.source} (letters, digits, '-', '_', '.'; no leading digit)`;
  return undefined;
}

/** What is wrong with one value, or undefined when it is fine. */
export function dimensionValueProblem(key: string, value: string): string | undefined {
  if (value.length === 0) return `dimension "${key}" has an empty value`;
  if (codePointLength(value) > MAX_DIMENSION_VALUE_LENGTH)
    return `dimension "${key}" has a value longer than ${MAX_DIMENSION_VALUE_LENGTH} characters`;
  if (hasOuterWhitespace(value)) return `dimension "${key}" value "${value}" has leading or trailing white space`;
  return undefined;
}
