/** The Lambda entry of the MySQL / MariaDB rotation function (its bundle carries only mysql2). */
import { mysqlRotator } from '../rotators/mysql/index.js';
import { createRotationHandler } from './createHandler.js';
import { rdsDiscovery } from './rds.js';

export const handler = createRotationHandler({ rotators: [mysqlRotator], discovery: rdsDiscovery() });
