// Writing a whole buffer with synchronous write(2) calls. fs.writeSync may write less than asked and return
// the count without an error — on a disk that fills up mid-buffer, the usual case — so a caller that ignores
// the count believes a record is on disk when only its front is. Every write here either puts all the bytes
// there or throws a typed CaskError (ENOSPC → CASKDB_NO_SPACE, others → CASKDB_IO).
import * as fs from 'node:fs';
import { CaskError, ErrorCode, ioError } from '../util/errors.js';

/**
 * Writes all of `data` to `fd` (at `position` and on, or at the current offset / the end for an append
 * descriptor when `position` is undefined). Throws after a partial write; the bytes written so far stay.
 */
export function writeFullySync(fd: number, data: Uint8Array, path: string, position?: number): void {
  let done = 0;
  while (done < data.length) {
    let n: number;
    try {
      n = fs.writeSync(fd, data, done, data.length - done, position === undefined ? null : position + done);
    } catch (error) {
      throw ioError('write', path, error);
    }
    if (n <= 0) throw new CaskError(ErrorCode.NoSpace, `write ${path}: no progress after ${done} of ${data.length} bytes (disk full?)`, { file: path });
    done += n;
  }
}
