// esbuild plugins for the Lambda bundles (serverless.yml custom.esbuild.plugins; deploy/bundle.ts
// loads the same file). An alias can only replace a package; these replace files inside one.
'use strict';

const path = require('node:path');

/** mysql2's table of server error names → deploy/shims/mysql2-errors.cjs (why: see the shim). */
const mysql2ErrorNames = {
  name: 'rotor-mysql2-error-names',
  setup(build) {
    build.onResolve({ filter: /[\\/]constants[\\/]errors\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]mysql2[\\/]/.test(args.importer)
        ? { path: path.join(__dirname, 'shims', 'mysql2-errors.cjs') }
        : undefined,
    );
  },
};

module.exports = [mysql2ErrorNames];
