import { NoburnValidationError } from './errors.js';

/**
 * Money is integer nano-dollars (1e-9 USD) everywhere inside noburn. JS numbers hold
 * integers exactly up to 2^53, i.e. about 9 million USD per amount or sum, which is far
 * above any budget this tool guards; amounts above MAX_USD are rejected at the edge.
 */
export const NANO_PER_USD = 1_000_000_000;
export const MAX_USD = 1_000_000;
export const MAX_NANO = MAX_USD * NANO_PER_USD;

const DECIMAL = /^(\d+)(?:\.(\d*))?$/;

/**
 * Parses a decimal USD amount ("0.50", "1", "$2.5", 0.005) into nano-dollars without
 * going through float arithmetic. Digits past the ninth decimal round half up.
 */
export function usdToNano(value: number | string, what = 'amount'): number {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new NoburnValidationError(`${what} must be a finite number`);
    if (value < 0) throw new NoburnValidationError(`${what} must not be negative`);
    // toFixed(12) avoids exponent notation for small values (1e-7) and keeps enough
    // digits to round the shortest decimal form correctly.
    text = value >= 1e21 ? String(value) : value.toFixed(12);
  } else {
    text = value.trim().replace(/^\$/, '');
  }
  const m = DECIMAL.exec(text);
  if (!m) throw new NoburnValidationError(`${what} is not a valid USD amount: ${JSON.stringify(String(value))}`);
  const whole = m[1] ?? '0';
  const frac = (m[2] ?? '').padEnd(10, '0');
  if (whole.length > 7) throw new NoburnValidationError(`${what} is too large (max ${MAX_USD} USD)`);
  let nano = Number(whole) * NANO_PER_USD + Number(frac.slice(0, 9));
  if (Number(frac[9]) >= 5) nano += 1;
  if (nano > MAX_NANO) throw new NoburnValidationError(`${what} is too large (max ${MAX_USD} USD)`);
  return nano;
}

/**
 * Converts a USD number that noburn itself produced (a sum read back, a wire value already
 * validated) to nano-dollars, without the input limits of usdToNano: sums may exceed
 * MAX_USD. Exact for any amount below 2^53 nano-dollars.
 */
export function usdNumberToNano(usd: number): number {
  return Math.round(usd * NANO_PER_USD);
}

/** Converts nano-dollars to a USD number for display and the wire (exact to 1e-9 for realistic sums). */
export function nanoToUsd(nano: number): number {
  return nano / NANO_PER_USD;
}

/** Formats nano-dollars as a fixed decimal string without float rounding: 1500000 -> "0.001500". */
export function formatUsd(nano: number, decimals = 6): string {
  const neg = nano < 0;
  const abs = Math.abs(Math.trunc(nano));
  const whole = Math.floor(abs / NANO_PER_USD);
  const frac = String(abs % NANO_PER_USD).padStart(9, '0');
  let shown = frac.slice(0, decimals);
  let w = whole;
  // round half up on the first dropped digit
  if (decimals < 9 && Number(frac[decimals]) >= 5) {
    const bumped = String(Number(shown || '0') + 1).padStart(decimals, '0');
    if (bumped.length > decimals) {
      w += 1;
      shown = bumped.slice(1);
    } else {
      shown = bumped;
    }
  }
  return `${neg ? '-' : ''}${w}${decimals > 0 ? '.' + shown : ''}`;
}
