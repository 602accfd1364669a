// A stand-in for mysql2's table of server error names (lib/constants/errors.js: ~150 kB of the
// bundled MySQL and heal functions). mysql2 uses it to set `error.code` from the error number;
// rotor classifies server errors by `errno` alone (rotators/mysql/classify.ts) and never reads a
// server error's name, so the bundle leaves the names out: `code` stays undefined for server
// errors, `errno` and `sqlState` are set as before. Client-side codes (HANDSHAKE_*, PROTOCOL_*)
// are set by mysql2 itself and do not come from this table.
'use strict';

// The only names mysql2's own code reads (lib/base/pool.js: read-only server detection).
exports.ER_OPTION_PREVENTS_STATEMENT = 1290;
exports.ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION = 1792;
exports.ER_READ_ONLY_MODE = 1836;
