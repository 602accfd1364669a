/** The PostgreSQL function: the PostgreSQL rotator (pg) and RDS endpoint discovery. */
import { postgresRotator } from '../../rotators/postgres/index.js';
import type { FunctionWiring } from '../functions.js';
import { rdsDiscovery } from '../rds.js';

export const postgresFunction: FunctionWiring = {
  key: 'postgres',
  rotators: () => [postgresRotator],
  discovery: rdsDiscovery,
};
