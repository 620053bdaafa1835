import { brotliDecompress, gunzip, inflate, type InputType } from 'node:zlib';

/**
 * Request bodies sent compressed (Content-Encoding: gzip, deflate, br) are decoded to be
 * metered; the decoded body is what goes upstream (without the header), so the bytes
 * metered are the bytes the provider bills. Returns null for an encoding noburn does not
 * know or a body that does not decode (or decodes past `limit` bytes).
 */
export function decodeBody(raw: Buffer, encoding: string, limit: number): Promise<Buffer | null> {
  const codings = encoding
    .toLowerCase()
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'identity');
  return codings.reduceRight<Promise<Buffer | null>>(async (acc, coding) => {
    const buf = await acc;
    if (buf === null) return null;
    return new Promise<Buffer | null>((resolve) => {
      const done = (err: Error | null, out: Buffer): void => resolve(err ? null : out);
      const input: InputType = buf;
      if (coding === 'gzip' || coding === 'x-gzip') gunzip(input, { maxOutputLength: limit }, done);
      else if (coding === 'deflate') inflate(input, { maxOutputLength: limit }, done);
      else if (coding === 'br') brotliDecompress(input, { maxOutputLength: limit }, done);
      else resolve(null);
    });
  }, Promise.resolve(raw));
}
