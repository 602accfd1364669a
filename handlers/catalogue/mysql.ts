/** The MySQL / MariaDB function: the MySQL rotator (mysql2) and RDS endpoint discovery. */
import { mysqlRotator } from '../../rotators/mysql/index.js';
import type { FunctionWiring } from '../functions.js';
import { rdsDiscovery } from '../rds.js';

export const mysqlFunction: FunctionWiring = {
  key: 'mysql',
  rotators: () => [mysqlRotator],
  discovery: rdsDiscovery,
};
